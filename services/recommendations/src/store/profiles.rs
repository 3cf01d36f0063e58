//! The `profiles` table: what cold start knows of a customer (rows <-> [`Profile`]). Events
//! write it (customers' created/updated/merged/erased, loyalty's tier changes); the refresh
//! job fills stale rows from customers; serving reads one row per call.
use super::entities::profile::{ActiveModel, Column, Entity, Model};
use crate::domain::profile::Profile;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

impl From<Model> for Profile {
    fn from(r: Model) -> Self {
        Self {
            language: r.language_code,
            city: r.city,
            tier: r.tier,
            // A row written by this module always holds a JSON array; anything else is
            // treated as no tags rather than failing a recommendation.
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
        }
    }
}

/// The customer's profile, if recommendations knows one.
pub async fn get(conn: &impl ConnectionTrait, customer: Uuid) -> Result<Option<Profile>, Error> {
    Ok(Entity::find_by_id(customer)
        .one(conn)
        .await?
        .map(Profile::from))
}

/// Writes the whole profile; `stale` says whether the refresh job should ask customers again.
pub async fn put(
    conn: &impl ConnectionTrait,
    customer: Uuid,
    p: &Profile,
    stale: bool,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = ActiveModel {
        customer_id: Set(customer),
        language_code: Set(p.language.clone()),
        city: Set(p.city.clone()),
        tier: Set(p.tier.clone()),
        tags: Set(serde_json::to_string(&p.tags).map_err(Error::internal)?),
        stale: Set(stale),
        update_time: Set(now),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::CustomerId)
                .update_columns([
                    Column::LanguageCode,
                    Column::City,
                    Column::Tier,
                    Column::Tags,
                    Column::Stale,
                    Column::UpdateTime,
                ])
                .to_owned(),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes the customer's profile (erasure, or the merged-away side of a merge).
pub async fn delete(conn: &impl ConnectionTrait, customer: Uuid) -> Result<(), Error> {
    Entity::delete_by_id(customer).exec(conn).await?;
    Ok(())
}

/// At most `limit` customers whose profile the refresh job should fetch, oldest first.
pub async fn stale(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<Uuid>, Error> {
    Ok(Entity::find()
        .select_only()
        .column(Column::CustomerId)
        .filter(Column::Stale.eq(true))
        .order_by_asc(Column::UpdateTime)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?)
}

/// A stale profile as the refresh job takes it: the customer and the row's `update_time`,
/// which the job's write must still find (an event in between wins, see [`fill`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleProfile {
    pub customer: Uuid,
    pub seen: DateTime<Utc>,
}

/// At most `limit` stale profiles, oldest first, with the `update_time` each was read at.
pub async fn stale_page(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<StaleProfile>, Error> {
    let rows: Vec<(Uuid, DateTime<Utc>)> = Entity::find()
        .select_only()
        .column(Column::CustomerId)
        .column(Column::UpdateTime)
        .filter(Column::Stale.eq(true))
        .order_by_asc(Column::UpdateTime)
        .order_by_asc(Column::CustomerId)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(customer, seen)| StaleProfile { customer, seen })
        .collect())
}

/// A row of no profile yet: what an event creates before the refresh job fills it.
fn empty_row(customer: Uuid, tier: &str, now: DateTime<Utc>) -> ActiveModel {
    ActiveModel {
        customer_id: Set(customer),
        language_code: Set(String::new()),
        city: Set(String::new()),
        tier: Set(tier.to_owned()),
        tags: Set("[]".to_owned()),
        stale: Set(true),
        update_time: Set(now),
    }
}

/// Marks the customer's profile for the refresh job (creating an empty one): customers said
/// it changed, and its events carry no profile data.
pub async fn mark_stale(
    conn: &impl ConnectionTrait,
    customer: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    Entity::insert(empty_row(customer, "", now))
        .on_conflict(
            OnConflict::column(Column::CustomerId)
                .update_columns([Column::Stale, Column::UpdateTime])
                .to_owned(),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// Sets the customer's loyalty tier (creating a stale profile, so the rest is fetched). The
/// row's time moves too, so a refresh read before it does not overwrite it with older data.
pub async fn set_tier(
    conn: &impl ConnectionTrait,
    customer: Uuid,
    tier: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    Entity::insert(empty_row(customer, tier, now))
        .on_conflict(
            OnConflict::column(Column::CustomerId)
                .update_columns([Column::Tier, Column::UpdateTime])
                .to_owned(),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// The refresh job's write: customers' language, city and tags (the tier is loyalty's and
/// stays), no longer stale, if the row is still the one `seen` (an event since then left it
/// stale for the next run, and a merge or erasure that deleted it wins). True when written.
pub async fn fill(
    conn: &impl ConnectionTrait,
    seen: StaleProfile,
    p: &Profile,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let res = Entity::update_many()
        .col_expr(Column::LanguageCode, Expr::value(p.language.clone()))
        .col_expr(Column::City, Expr::value(p.city.clone()))
        .col_expr(
            Column::Tags,
            Expr::value(serde_json::to_string(&p.tags).map_err(Error::internal)?),
        )
        .col_expr(Column::Stale, Expr::value(false))
        .col_expr(Column::UpdateTime, Expr::value(now))
        .filter(Column::CustomerId.eq(seen.customer))
        .filter(Column::UpdateTime.eq(seen.seen))
        .exec(conn)
        .await?;
    Ok(res.rows_affected > 0)
}

/// The refresh job is done with a profile it cannot fill (customers no longer has the
/// customer): no longer stale, what events told kept, unless an event came since `seen`.
pub async fn settle(
    conn: &impl ConnectionTrait,
    seen: StaleProfile,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    touch_unchanged(conn, seen, now, Some(false)).await
}

/// A profile whose refresh failed goes to the back of the queue (still stale), so a failing
/// customer never holds back the others.
pub async fn postpone(
    conn: &impl ConnectionTrait,
    seen: StaleProfile,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    touch_unchanged(conn, seen, now, None).await
}

/// Sets the update time (and `stale`, when given) of a profile no event changed since `seen`.
async fn touch_unchanged(
    conn: &impl ConnectionTrait,
    seen: StaleProfile,
    now: DateTime<Utc>,
    stale: Option<bool>,
) -> Result<(), Error> {
    let mut q = Entity::update_many().col_expr(Column::UpdateTime, Expr::value(now));
    if let Some(stale) = stale {
        q = q.col_expr(Column::Stale, Expr::value(stale));
    }
    q.filter(Column::CustomerId.eq(seen.customer))
        .filter(Column::UpdateTime.eq(seen.seen))
        .exec(conn)
        .await?;
    Ok(())
}

/// A merge: the survivor keeps its profile, taking what it lacks (every field, or the tier)
/// from the first loser that has one, marked stale (customers fills the survivor's gaps and
/// says so); the losers' profiles are deleted. Returns how many loser profiles there were.
pub async fn merge_into(
    conn: &impl ConnectionTrait,
    losers: &[Uuid],
    survivor: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    if losers.is_empty() {
        return Ok(0);
    }
    let found = Entity::find()
        .filter(Column::CustomerId.is_in(losers.iter().copied()))
        .all(conn)
        .await?;
    let mut merged: Profile = match Entity::find_by_id(survivor).one(conn).await? {
        Some(row) => row.into(),
        None => Profile::default(),
    };
    // In the merge's order: the first loser named fills first.
    for loser in losers {
        let Some(row) = found.iter().find(|r| r.customer_id == *loser) else {
            continue;
        };
        let p = Profile::from(row.clone());
        if merged.language.is_empty() {
            merged.language = p.language;
        }
        if merged.city.is_empty() {
            merged.city = p.city;
        }
        if merged.tier.is_empty() {
            merged.tier = p.tier;
        }
        if merged.tags.is_empty() {
            merged.tags = p.tags;
        }
    }
    put(conn, survivor, &merged, true, now).await?;
    Entity::delete_many()
        .filter(Column::CustomerId.is_in(losers.iter().copied()))
        .exec(conn)
        .await?;
    Ok(found.len() as u64)
}

/// Deletes the profiles of `customers` (an erasure); returns how many.
pub async fn delete_of(conn: &impl ConnectionTrait, customers: &[Uuid]) -> Result<u64, Error> {
    if customers.is_empty() {
        return Ok(0);
    }
    let res = Entity::delete_many()
        .filter(Column::CustomerId.is_in(customers.iter().copied()))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}
