//! Duplicate candidates: customers sharing a contact key, or name and birth date, ranked by
//! the database.
use super::super::customers::{CONTACT_EMAIL, CONTACT_PHONE};
use crate::domain::{CustomerId, CustomerState};
use crm_platform::Error;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where the next page of duplicate candidates starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DuplicateCursor {
    pub rank: i32,
    pub id: Uuid,
}

/// What a customer's duplicates share with it, as blind indexes.
#[derive(Debug, Clone, Default)]
pub struct DuplicateKeys {
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    /// Of the full name key and the birth date together.
    pub name_and_birth_date: Option<String>,
}

/// A page of active customers other than `except` sharing a key with it, strongest evidence
/// first (see `domain::duplicates::evidence_rank`), then by id. The database groups and ranks
/// the candidates; only one page is read.
pub async fn duplicate_page(
    conn: &impl ConnectionTrait,
    except: CustomerId,
    keys: &DuplicateKeys,
    after: Option<&DuplicateCursor>,
    limit: u64,
) -> Result<Vec<DuplicateCursor>, Error> {
    let backend = conn.get_database_backend();
    let mut values: Vec<sea_orm::Value> = Vec::new();
    let param = |v: sea_orm::Value, values: &mut Vec<sea_orm::Value>| {
        values.push(v);
        match backend {
            sea_orm::DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        }
    };
    let mut sources = Vec::new();
    for (kind, list, flags) in [
        (CONTACT_EMAIL, &keys.emails, "1 AS e, 0 AS p, 0 AS n"),
        (CONTACT_PHONE, &keys.phones, "0 AS e, 1 AS p, 0 AS n"),
    ] {
        if list.is_empty() {
            continue;
        }
        let k = param(kind.into(), &mut values);
        let vals: Vec<String> = list
            .iter()
            .map(|x| param(x.clone().into(), &mut values))
            .collect();
        sources.push(format!(
            "SELECT customer_id, {flags} FROM customer_contacts WHERE kind = {k} AND value IN ({})",
            vals.join(", ")
        ));
    }
    if let Some(name_dob) = &keys.name_and_birth_date {
        let n = param(name_dob.clone().into(), &mut values);
        sources.push(format!(
            "SELECT id AS customer_id, 0 AS e, 0 AS p, 1 AS n FROM customers WHERE full_name_key = {n}"
        ));
    }
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let mut ranks = String::from("CASE");
    for bits in (1..8u8).rev() {
        let (e, p, n) = (bits & 4 != 0, bits & 2 != 0, bits & 1 != 0);
        let rank = crate::domain::duplicates::evidence_rank(e, p, n);
        ranks.push_str(&format!(
            " WHEN e = {} AND p = {} AND n = {} THEN {rank}",
            u8::from(e),
            u8::from(p),
            u8::from(n)
        ));
    }
    ranks.push_str(" END");
    let except_p = param(except.0.into(), &mut values);
    let active = param(CustomerState::Active.as_str().into(), &mut values);
    let page = match after {
        Some(c) => {
            let r = param(c.rank.into(), &mut values);
            let id = param(c.id.into(), &mut values);
            format!(" AND (k.rnk, k.customer_id) > ({r}, {id})")
        }
        None => String::new(),
    };
    let lim = param((limit as i64).into(), &mut values);
    let sql = format!(
        "SELECT k.customer_id AS customer_id, k.rnk AS rnk FROM (\
           SELECT customer_id, {ranks} AS rnk FROM (\
             SELECT customer_id, MAX(e) AS e, MAX(p) AS p, MAX(n) AS n FROM (\
               {}\
             ) AS s GROUP BY customer_id\
           ) AS f\
         ) AS k JOIN customers c ON c.id = k.customer_id \
         WHERE c.id <> {except_p} AND c.state = {active}{page} \
         ORDER BY k.rnk, k.customer_id LIMIT {lim}",
        sources.join(" UNION ALL ")
    );
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DuplicateCursor {
                id: r.try_get("", "customer_id")?,
                rank: r.try_get("", "rnk")?,
            })
        })
        .collect::<Result<_, sea_orm::DbErr>>()
        .map_err(Into::into)
}
