//! Customer queries. Writes keep the search keys (contacts, tags) in step with the profile.
use super::convert::{audit_from_row, customer_from_row, customer_to_row};
use super::entities::{audit, contact, customer, tag};
use crate::domain::{AuditEntry, Customer, CustomerId, CustomerState};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const CONTACT_EMAIL: &str = "email";
pub const CONTACT_PHONE: &str = "phone";
pub const CONTACT_NAME: &str = "name";

pub use super::convert::{INDEX_EMAIL, INDEX_NAME_PREFIX, INDEX_PHONE, name_dob_index};
pub use super::queries::{
    Cursor, DuplicateCursor, DuplicateKeys, ListQuery, SearchCursor, cursor_of, duplicate_page,
    list, list_select, search_contact, search_select,
};

pub async fn find(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    id: CustomerId,
) -> Result<Option<Customer>, Error> {
    customer::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .map(|r| customer_from_row(r, keys))
        .transpose()
}

/// How [`find_locked`] locks the row until the transaction ends (PostgreSQL; SQLite has one
/// writer at a time, which serialises the same writes).
#[derive(Debug, Clone, Copy)]
pub enum RowLock {
    /// Writers that must not interleave with a change of state (activities): many at once.
    Share,
    /// A change of state (erasure): waits for every share holder to commit first.
    Update,
}

/// The customer, its row locked for the rest of `conn`'s transaction.
pub async fn find_locked(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    id: CustomerId,
    lock: RowLock,
) -> Result<Option<Customer>, Error> {
    let find = customer::Entity::find_by_id(id.0);
    let find = match lock {
        RowLock::Share => find.lock_shared(),
        RowLock::Update => find.lock_exclusive(),
    };
    find.one(conn)
        .await?
        .map(|r| customer_from_row(r, keys))
        .transpose()
}

pub async fn find_many(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    ids: &[Uuid],
) -> Result<Vec<Customer>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    customer::Entity::find()
        .filter(customer::Column::Id.is_in(ids.to_vec()))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| customer_from_row(r, keys))
        .collect()
}

/// The active customer with this external id, if any.
pub async fn find_by_external_id(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    external_id: &str,
) -> Result<Option<Customer>, Error> {
    customer::Entity::find()
        .filter(customer::Column::ExternalId.eq(external_id))
        .one(conn)
        .await?
        .map(|r| customer_from_row(r, keys))
        .transpose()
}

pub async fn find_active_by_primary_email(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    email: &str,
) -> Result<Option<Customer>, Error> {
    customer::Entity::find()
        .filter(customer::Column::PrimaryEmail.eq(keys.index(INDEX_EMAIL, email)))
        .filter(customer::Column::State.eq(CustomerState::Active.as_str()))
        .order_by_asc(customer::Column::Id)
        .one(conn)
        .await?
        .map(|r| customer_from_row(r, keys))
        .transpose()
}

pub async fn insert(conn: &impl ConnectionTrait, keys: &Keys, c: &Customer) -> Result<(), Error> {
    customer::Entity::insert(customer_to_row(c, keys)?)
        .exec(conn)
        .await
        .map_err(map_unique)?;
    insert_search_keys(conn, keys, c).await
}

/// Writes `c` if its stored revision is still `c.revision - 1`; false when someone else won.
pub async fn update(conn: &impl ConnectionTrait, keys: &Keys, c: &Customer) -> Result<bool, Error> {
    rewrite(conn, keys, c, c.revision - 1).await
}

/// Writes `c` (sealed under the write key, search keys rebuilt) if its stored revision is
/// still `expected`.
pub(super) async fn rewrite(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    c: &Customer,
    expected: i64,
) -> Result<bool, Error> {
    let mut row = customer_to_row(c, keys)?;
    row.id = sea_orm::ActiveValue::Unchanged(c.id.0);
    let res = customer::Entity::update_many()
        .set(row)
        .filter(customer::Column::Id.eq(c.id.0))
        .filter(customer::Column::Revision.eq(expected))
        .exec(conn)
        .await
        .map_err(map_unique)?;
    if res.rows_affected == 0 {
        return Ok(false);
    }
    write_search_keys(conn, keys, c).await?;
    Ok(true)
}

fn map_unique(e: sea_orm::DbErr) -> Error {
    if crm_platform::db::is_unique_violation(&e) {
        crate::error::external_id_taken()
    } else {
        e.into()
    }
}

/// Replaces the contacts and tags rows of `c`. Only active and deleted customers are
/// searchable; merged and erased ones have no search keys.
async fn write_search_keys(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    c: &Customer,
) -> Result<(), Error> {
    contact::Entity::delete_many()
        .filter(contact::Column::CustomerId.eq(c.id.0))
        .exec(conn)
        .await?;
    tag::Entity::delete_many()
        .filter(tag::Column::CustomerId.eq(c.id.0))
        .exec(conn)
        .await?;
    insert_search_keys(conn, keys, c).await
}

/// Inserts the contacts and tags rows of `c` (which has none yet).
async fn insert_search_keys(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    c: &Customer,
) -> Result<(), Error> {
    let (contacts, tags) = search_keys(c, keys);
    if !contacts.is_empty() {
        contact::Entity::insert_many(contacts)
            .exec_without_returning(conn)
            .await?;
    }
    if !tags.is_empty() {
        tag::Entity::insert_many(tags)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// The longest name prefix with a blind index: a longer query is looked up by its first
/// `NAME_PREFIX_MAX` characters and checked on the opened profiles.
pub const NAME_PREFIX_MAX: usize = 8;
/// The shortest name prefix searched (and indexed).
pub const NAME_PREFIX_MIN: usize = 2;

/// The prefixes of `key` with a blind index: 2..=8 characters.
pub fn name_prefixes(key: &str) -> impl Iterator<Item = &str> {
    key.char_indices()
        .map(|(i, ch)| &key[..i + ch.len_utf8()])
        .skip(NAME_PREFIX_MIN - 1)
        .take(NAME_PREFIX_MAX - NAME_PREFIX_MIN + 1)
}

/// The contacts and tags rows of `c` (none unless active or deleted). Contact values are
/// blind indexes: of each e-mail, each phone, and each distinct 2..=8 character prefix of
/// each name key.
fn search_keys(c: &Customer, keys: &Keys) -> (Vec<contact::ActiveModel>, Vec<tag::ActiveModel>) {
    if !matches!(c.state, CustomerState::Active | CustomerState::Deleted) {
        return (Vec::new(), Vec::new());
    }
    let p = &c.profile;
    let mut values: Vec<(&str, String)> = Vec::new();
    values.extend(
        p.emails()
            .map(|e| (CONTACT_EMAIL, keys.index(INDEX_EMAIL, e.as_str()))),
    );
    values.extend(
        p.phones
            .iter()
            .map(|x| (CONTACT_PHONE, keys.index(INDEX_PHONE, x.as_str()))),
    );
    let names = p.name_keys();
    let mut prefixes: Vec<&str> = names.iter().flat_map(|k| name_prefixes(k)).collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    values.extend(
        prefixes
            .into_iter()
            .map(|n| (CONTACT_NAME, keys.index(INDEX_NAME_PREFIX, n))),
    );
    values.sort();
    values.dedup();
    let contacts = values
        .into_iter()
        .map(|(kind, value)| contact::ActiveModel {
            customer_id: Set(c.id.0),
            kind: Set(kind.to_owned()),
            value: Set(value),
        })
        .collect();
    let sealed = keys.write_key().is_some();
    let tags = p
        .tags
        .iter()
        .map(|t| tag::ActiveModel {
            customer_id: Set(c.id.0),
            tag: Set(t.as_str().to_owned()),
            lifecycle_stage: Set(p.lifecycle_stage.as_str().to_owned()),
            create_time: Set(c.create_time),
            update_time: Set(c.update_time),
            // A sort copy of the name only while names are kept in plain text.
            display_name: Set(if sealed {
                String::new()
            } else {
                p.display_name.clone()
            }),
        })
        .collect();
    (contacts, tags)
}

/// Inserts new customers with their search keys in multi-row statements (bulk loads).
pub async fn insert_many(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    cs: &[Customer],
) -> Result<(), Error> {
    // Well below SQLite's 32,766 bound parameters per statement.
    const ROWS: usize = 400;
    let mut contacts = Vec::new();
    let mut tags = Vec::new();
    for chunk in cs.chunks(ROWS) {
        let rows = chunk
            .iter()
            .map(|c| customer_to_row(c, keys))
            .collect::<Result<Vec<_>, _>>()?;
        customer::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await
            .map_err(map_unique)?;
        for c in chunk {
            let (k, t) = search_keys(c, keys);
            contacts.extend(k);
            tags.extend(t);
        }
    }
    while !contacts.is_empty() {
        let rest = contacts.split_off(contacts.len().min(ROWS * 2));
        contact::Entity::insert_many(std::mem::replace(&mut contacts, rest))
            .exec_without_returning(conn)
            .await?;
    }
    while !tags.is_empty() {
        let rest = tags.split_off(tags.len().min(ROWS * 2));
        tag::Entity::insert_many(std::mem::replace(&mut tags, rest))
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Ids of customers merged into `survivor` (directly).
pub async fn merged_into(
    conn: &impl ConnectionTrait,
    survivor: CustomerId,
) -> Result<Vec<CustomerId>, Error> {
    let ids: Vec<Uuid> = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::MergedInto.eq(survivor.0))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    Ok(ids.into_iter().map(CustomerId).collect())
}

/// Ids of customers merged into `survivor`, in id order after `after`, `limit` at a time.
pub async fn merged_page(
    conn: &impl ConnectionTrait,
    survivor: CustomerId,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<CustomerId>, Error> {
    let mut find = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::MergedInto.eq(survivor.0));
    if let Some(a) = after {
        find = find.filter(customer::Column::Id.gt(a));
    }
    let ids: Vec<Uuid> = find
        .order_by_asc(customer::Column::Id)
        .limit(limit)
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    Ok(ids.into_iter().map(CustomerId).collect())
}

/// Points customers merged into any of `from` at `to`, so lookups resolve in one hop.
pub async fn repoint_merged(
    conn: &impl ConnectionTrait,
    from: &[Uuid],
    to: CustomerId,
) -> Result<Vec<CustomerId>, Error> {
    let ids: Vec<Uuid> = customer::Entity::find()
        .select_only()
        .column(customer::Column::Id)
        .filter(customer::Column::MergedInto.is_in(from.to_vec()))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    if !ids.is_empty() {
        customer::Entity::update_many()
            .col_expr(customer::Column::MergedInto, Expr::value(to.0))
            .col_expr(
                customer::Column::Revision,
                Expr::col(customer::Column::Revision).add(1),
            )
            .filter(customer::Column::Id.is_in(ids.clone()))
            .exec(conn)
            .await?;
    }
    Ok(ids.into_iter().map(CustomerId).collect())
}

pub async fn add_audit(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    action: &str,
    actor: &str,
    details: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = audit::ActiveModel {
        id: Set(Uuid::now_v7()),
        customer_id: Set(customer.0),
        action: Set(action.to_owned()),
        actor: Set(actor.to_owned()),
        details: Set(details.to_owned()),
        create_time: Set(now),
    };
    audit::Entity::insert(row).exec(conn).await?;
    Ok(())
}

/// Where the next page of audit entries starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditCursor {
    pub t: DateTime<Utc>,
    pub id: Uuid,
}

/// A customer's audit entries oldest first, `limit` at a time after `after`.
pub async fn audit_page(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    after: Option<&AuditCursor>,
    limit: u64,
) -> Result<Vec<(AuditCursor, AuditEntry)>, Error> {
    let mut find = audit::Entity::find().filter(audit::Column::CustomerId.eq(customer.0));
    if let Some(c) = after {
        find = find.filter(
            Expr::tuple([
                Expr::col(audit::Column::CreateTime),
                Expr::col(audit::Column::Id),
            ])
            .gt(Expr::tuple([Expr::value(c.t), Expr::value(c.id)])),
        );
    }
    let rows = find
        .order_by_asc(audit::Column::CreateTime)
        .order_by_asc(audit::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let cursor = AuditCursor {
                t: r.create_time,
                id: r.id,
            };
            (cursor, audit_from_row(r))
        })
        .collect())
}
