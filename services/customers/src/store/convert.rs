//! Row <-> domain conversions.
use super::entities::{activity, audit, customer};
use crate::domain::{
    Activity, ActivityKind, AuditEntry, Customer, CustomerId, CustomerState, Money, Profile,
    PurchaseItem,
};
use crm_platform::Error;
use crm_platform::pii::{Keys, LEGACY};
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};

/// A sealed JSON value's three columns: the plain JSON (null when sealed), the sealed bytes
/// and their data key (none in plain text).
struct SealedColumns {
    plain: serde_json::Value,
    sealed: Option<Vec<u8>>,
    key: Option<String>,
}

/// `v` for row `id` of `table`, sealed under the write key (bound to the row: a sealed
/// value copied to another row does not open), or plain with encryption off.
fn seal_columns<T: Serialize>(
    keys: &Keys,
    table: &str,
    id: uuid::Uuid,
    v: &T,
) -> Result<SealedColumns, Error> {
    let json = serde_json::to_vec(v).map_err(Error::internal)?;
    let sealed = keys.seal(format!("{table}:{id}").as_bytes(), &json)?;
    Ok(match sealed.key {
        None => SealedColumns {
            plain: serde_json::to_value(v).map_err(Error::internal)?,
            sealed: None,
            key: None,
        },
        key => SealedColumns {
            plain: serde_json::Value::Null,
            sealed: Some(sealed.bytes),
            key,
        },
    })
}

/// The value [`seal_columns`] stored: plain JSON (encryption off, or `legacy` rows of
/// before), or the sealed bytes opened under `key`.
fn open_columns<T: serde::de::DeserializeOwned>(
    keys: &Keys,
    table: &str,
    id: uuid::Uuid,
    key: Option<&str>,
    sealed: Option<&[u8]>,
    plain: serde_json::Value,
) -> Result<T, Error> {
    let bad = |e| bad_json(table, id, e);
    match (key, sealed) {
        (None | Some(LEGACY), _) => serde_json::from_value(plain).map_err(bad),
        (key, Some(sealed)) => {
            let aad = format!("{table}:{id}");
            serde_json::from_slice(&keys.unseal(key, aad.as_bytes(), sealed)?).map_err(bad)
        }
        (Some(key), None) => Err(Error::internal(anyhow::anyhow!(
            "{table}.{id} names data key {key:?} but holds no sealed value"
        ))),
    }
}

pub fn customer_from_row(row: customer::Model, keys: &Keys) -> Result<Customer, Error> {
    let state = CustomerState::from_db(&row.state).ok_or_else(|| {
        Error::internal(anyhow::anyhow!(
            "unknown state {:?} in customers.{}",
            row.state,
            row.id
        ))
    })?;
    let profile: Profile = open_columns(
        keys,
        "customers",
        row.id,
        row.pii_key.as_deref(),
        row.sealed.as_deref(),
        row.profile,
    )?;
    Ok(Customer {
        id: CustomerId(row.id),
        profile,
        state,
        merged_into: row.merged_into.map(CustomerId),
        revision: row.revision,
        create_time: row.create_time,
        update_time: row.update_time,
        delete_time: row.delete_time,
    })
}

/// Blind index domains (see crm_platform::pii::Keys::index).
pub const INDEX_EMAIL: &str = "email";
pub const INDEX_PHONE: &str = "phone";
pub const INDEX_NAME_PREFIX: &str = "name";
pub const INDEX_NAME_DOB: &str = "name-dob";

/// The blind index of "same full name and birth date" (empty without a birth date).
pub fn name_dob_index(keys: &Keys, full_name_key: &str, birth_date: chrono::NaiveDate) -> String {
    keys.index(INDEX_NAME_DOB, &format!("{full_name_key}|{birth_date}"))
}

/// The row of `c`: the profile sealed under the write key (plain with encryption off), the
/// columns that filter by personal data as blind indexes, display names blank when sealed.
pub fn customer_to_row(c: &Customer, keys: &Keys) -> Result<customer::ActiveModel, Error> {
    let p = &c.profile;
    let cols = seal_columns(keys, "customers", c.id.0, p)?;
    // A sort copy of the name only while names are kept in plain text.
    let display_name = match cols.key {
        None => p.display_name.clone(),
        Some(_) => String::new(),
    };
    Ok(customer::ActiveModel {
        id: Set(c.id.0),
        display_name: Set(display_name),
        full_name_key: Set(p
            .birth_date
            .map(|d| name_dob_index(keys, &p.full_name_key(), d))
            .unwrap_or_default()),
        birth_date: Set(None),
        primary_email: Set(p
            .primary_email
            .as_ref()
            .map(|e| keys.index(INDEX_EMAIL, e.as_str()))),
        external_id: Set(p.external_id.clone()),
        lifecycle_stage: Set(p.lifecycle_stage.as_str().to_owned()),
        state: Set(c.state.as_str().to_owned()),
        merged_into: Set(c.merged_into.map(|m| m.0)),
        profile: Set(cols.plain),
        pii_key: Set(cols.key),
        sealed: Set(cols.sealed),
        revision: Set(c.revision),
        create_time: Set(c.create_time),
        update_time: Set(c.update_time),
        delete_time: Set(c.delete_time),
    })
}

/// The activity fields that live in the JSON column.
#[derive(Serialize, Deserialize, Default)]
struct ActivityData {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    channel: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    items: Vec<PurchaseItem>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    reference: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    item_id: String,
    #[serde(default)]
    rating: i32,
}

/// A row's JSON that does not parse, by position only: serde_json's message can quote the
/// (personal) value it choked on.
fn bad_json(table: &str, id: uuid::Uuid, e: serde_json::Error) -> Error {
    Error::internal(anyhow::anyhow!(
        "bad json in {table}.{id} at line {} column {}",
        e.line(),
        e.column()
    ))
}

/// The row of `a`: its free text, references and items sealed (plain with encryption off);
/// kind, time and amount stay plain for the insights' sums.
pub fn activity_to_row(a: &Activity, keys: &Keys) -> Result<activity::ActiveModel, Error> {
    let data = ActivityData {
        channel: a.channel.clone(),
        items: a.items.clone(),
        reference: a.reference.clone(),
        text: a.text.clone(),
        item_id: a.item_id.clone(),
        rating: a.rating,
    };
    let cols = seal_columns(keys, "activities", a.id, &data)?;
    Ok(activity::ActiveModel {
        id: Set(a.id),
        customer_id: Set(a.customer.0),
        kind: Set(a.kind.as_str().to_owned()),
        occur_time: Set(a.occur_time),
        currency: Set(a.amount.as_ref().map(|m| m.currency.clone())),
        amount_minor: Set(a.amount.as_ref().map(|m| m.amount_minor)),
        data: Set(cols.plain),
        pii_key: Set(cols.key),
        sealed: Set(cols.sealed),
        create_time: Set(a.create_time),
    })
}

pub fn activity_from_row(row: activity::Model, keys: &Keys) -> Result<Activity, Error> {
    let kind = ActivityKind::from_db(&row.kind)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("unknown activity kind {:?}", row.kind)))?;
    let data: ActivityData = open_columns(
        keys,
        "activities",
        row.id,
        row.pii_key.as_deref(),
        row.sealed.as_deref(),
        row.data,
    )?;
    Ok(Activity {
        id: row.id,
        customer: CustomerId(row.customer_id),
        kind,
        occur_time: row.occur_time,
        channel: data.channel,
        amount: row
            .currency
            .zip(row.amount_minor)
            .map(|(currency, amount_minor)| Money {
                currency,
                amount_minor,
            }),
        items: data.items,
        reference: data.reference,
        text: data.text,
        item_id: data.item_id,
        rating: data.rating,
        create_time: row.create_time,
    })
}

pub fn audit_from_row(row: audit::Model) -> AuditEntry {
    AuditEntry {
        action: row.action,
        actor: row.actor,
        details: row.details,
        create_time: row.create_time,
    }
}
