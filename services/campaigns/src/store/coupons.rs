//! The `coupon_pools` and `coupon_codes` tables. A claim takes one free code with a
//! conditional UPDATE (on PostgreSQL the candidate is picked `FOR UPDATE SKIP LOCKED`), so
//! concurrent claims never share a code; the claim key (unique per pool) makes a repeat
//! return the code it got the first time.
use super::entities::{coupon_code as code, coupon_pool as pool};
use crate::domain::coupon::{CouponPool, PoolCounts, customer_claim_key};
use crate::domain::{CouponPoolId, CustomerId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::db::is_unique_violation;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionSession, TransactionTrait,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Codes inserted per statement (3 parameters each, far below SQLite's limit).
const INSERT_CHUNK: usize = 500;
/// Tries of a claim whose free code was taken meanwhile (each try picks another).
const CLAIM_ATTEMPTS: usize = 5;

impl From<pool::Model> for CouponPool {
    fn from(row: pool::Model) -> Self {
        Self {
            id: CouponPoolId(row.id),
            display_name: row.display_name,
            revision: row.revision,
            create_time: row.create_time,
            update_time: row.update_time,
        }
    }
}

pub async fn insert_pool(conn: &impl ConnectionTrait, p: &CouponPool) -> Result<(), Error> {
    pool::Entity::insert(pool::ActiveModel {
        id: Set(p.id.0),
        display_name: Set(p.display_name.clone()),
        revision: Set(p.revision),
        create_time: Set(p.create_time),
        update_time: Set(p.update_time),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

pub async fn find_pool(
    conn: &impl ConnectionTrait,
    id: CouponPoolId,
) -> Result<Option<CouponPool>, Error> {
    Ok(pool::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .map(CouponPool::from))
}

/// Up to `limit` pools after `after` in id order (oldest first: ids are time-ordered).
pub async fn list_pools(
    conn: &impl ConnectionTrait,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<CouponPool>, Error> {
    let mut q = pool::Entity::find();
    if let Some(a) = after {
        q = q.filter(pool::Column::Id.gt(a));
    }
    Ok(q.order_by_asc(pool::Column::Id)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(CouponPool::from)
        .collect())
}

/// A new revision of the pool before its codes change, or None when it does not exist. On
/// PostgreSQL the update holds the pool's row until commit, so uploads to one pool take
/// turns and the pool's size bound holds.
pub async fn revise_pool(
    conn: &impl ConnectionTrait,
    id: CouponPoolId,
    now: DateTime<Utc>,
) -> Result<Option<CouponPool>, Error> {
    let res = pool::Entity::update_many()
        .col_expr(
            pool::Column::Revision,
            Expr::col(pool::Column::Revision).add(1),
        )
        .col_expr(pool::Column::UpdateTime, Expr::value(now))
        .filter(pool::Column::Id.eq(id.0))
        .exec(conn)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    find_pool(conn, id).await
}

/// Codes and claimed codes of each of `pools` (counted on the index coupon_codes_free).
pub async fn counts(
    conn: &impl ConnectionTrait,
    pools: &[CouponPoolId],
) -> Result<HashMap<CouponPoolId, PoolCounts>, Error> {
    let mut out: HashMap<CouponPoolId, PoolCounts> =
        pools.iter().map(|p| (*p, PoolCounts::default())).collect();
    if pools.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(Uuid, bool, i64)> = code::Entity::find()
        .select_only()
        .column(code::Column::PoolId)
        .column(code::Column::Claimed)
        .column_as(code::Column::Code.count(), "n")
        .filter(code::Column::PoolId.is_in(pools.iter().map(|p| p.0)))
        .group_by(code::Column::PoolId)
        .group_by(code::Column::Claimed)
        .into_tuple()
        .all(conn)
        .await?;
    for (id, claimed, n) in rows {
        let n = u64::try_from(n).unwrap_or(0);
        let c = out.entry(CouponPoolId(id)).or_default();
        c.codes = c.codes.saturating_add(n);
        if claimed {
            c.claimed = c.claimed.saturating_add(n);
        }
    }
    Ok(out)
}

/// Inserts the codes `pool` does not hold yet; returns how many were new.
pub async fn insert_codes(
    conn: &impl ConnectionTrait,
    pool: CouponPoolId,
    codes: &[String],
) -> Result<u64, Error> {
    let mut added = 0;
    for chunk in codes.chunks(INSERT_CHUNK) {
        let rows = chunk.iter().map(|c| code::ActiveModel {
            pool_id: Set(pool.0),
            code: Set(c.clone()),
            claimed: Set(false),
            ..Default::default()
        });
        let res = code::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([code::Column::PoolId, code::Column::Code])
            .exec_without_returning(conn)
            .await?;
        if let sea_orm::TryInsertResult::Inserted(n) = res {
            added += n;
        }
    }
    Ok(added)
}

/// The code `claim_key` holds in `pool`, claiming a free one for `customer` when it holds
/// none; None when the pool has no free code.
pub async fn claim<C>(
    conn: &C,
    pool: CouponPoolId,
    claim_key: &str,
    customer: CustomerId,
    now: DateTime<Utc>,
) -> Result<Option<String>, Error>
where
    C: ConnectionTrait + TransactionTrait,
{
    Ok(claim_at(conn, pool, claim_key, customer, now)
        .await?
        .map(|(code, _)| code))
}

/// [`claim`] with the time of the claim (the first one's, for a repeat).
pub async fn claim_at<C>(
    conn: &C,
    pool: CouponPoolId,
    claim_key: &str,
    customer: CustomerId,
    now: DateTime<Utc>,
) -> Result<Option<(String, DateTime<Utc>)>, Error>
where
    C: ConnectionTrait + TransactionTrait,
{
    for _ in 0..CLAIM_ATTEMPTS {
        if let Some(held) = held(conn, pool, claim_key).await? {
            return Ok(Some(held));
        }
        // In a savepoint: a concurrent claim with the same key that commits first makes
        // the update violate the unique (pool, claim_key) index, which on PostgreSQL would
        // otherwise abort the caller's whole transaction; rolling back to it also lets go
        // of the code picked. The next try reads the other claim's code.
        let attempt = conn.begin().await?;
        let Some(free) = free_code(&attempt, pool).await? else {
            attempt.rollback().await?;
            return Ok(None);
        };
        match take(&attempt, pool, &free, claim_key, customer, now).await {
            Ok(true) => {
                attempt.commit().await?;
                return Ok(Some((free, now)));
            }
            Ok(false) => attempt.rollback().await?,
            Err(e) if is_unique_violation(&e) => attempt.rollback().await?,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::internal(anyhow::anyhow!(
        "no coupon code of {pool} claimed after {CLAIM_ATTEMPTS} attempts"
    )))
}

/// The code and claim time `claim_key` already holds in `pool`.
async fn held(
    conn: &impl ConnectionTrait,
    pool: CouponPoolId,
    claim_key: &str,
) -> Result<Option<(String, DateTime<Utc>)>, Error> {
    let row: Option<(String, Option<DateTime<Utc>>)> = code::Entity::find()
        .select_only()
        .column(code::Column::Code)
        .column(code::Column::ClaimTime)
        .filter(code::Column::PoolId.eq(pool.0))
        .filter(code::Column::ClaimKey.eq(claim_key))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(row.map(|(code, at)| (code, at.unwrap_or_default())))
}

/// One free code of `pool`; on PostgreSQL locked for this transaction, passing over the
/// codes concurrent claims hold (SQLite has one writer at a time).
async fn free_code(
    conn: &impl ConnectionTrait,
    pool: CouponPoolId,
) -> Result<Option<String>, Error> {
    let mut q = code::Entity::find()
        .select_only()
        .column(code::Column::Code)
        .filter(code::Column::PoolId.eq(pool.0))
        .filter(code::Column::Claimed.eq(false))
        .limit(1);
    if conn.get_database_backend() == DbBackend::Postgres {
        q = q.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(q.into_tuple().one(conn).await?)
}

/// Claims `free` if it is still free; false when another claim took it first.
async fn take(
    conn: &impl ConnectionTrait,
    pool: CouponPoolId,
    free: &str,
    claim_key: &str,
    customer: CustomerId,
    now: DateTime<Utc>,
) -> Result<bool, sea_orm::DbErr> {
    let res = code::Entity::update_many()
        .col_expr(code::Column::Claimed, Expr::value(true))
        .col_expr(code::Column::ClaimKey, Expr::value(claim_key))
        .col_expr(code::Column::CustomerId, Expr::value(customer.0))
        .col_expr(code::Column::ClaimTime, Expr::value(now))
        .filter(code::Column::PoolId.eq(pool.0))
        .filter(code::Column::Code.eq(free))
        .filter(code::Column::Claimed.eq(false))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Erasure: the codes of `customers` stay claimed (they were given out) but nothing links
/// them to the customers any more, and the stored ClaimCoupon answers naming them are
/// dropped. Returns the codes scrubbed.
pub async fn forget_customers(
    conn: &impl ConnectionTrait,
    customers: &[CustomerId],
) -> Result<u64, Error> {
    if customers.is_empty() {
        return Ok(0);
    }
    let res = code::Entity::update_many()
        .col_expr(code::Column::CustomerId, Expr::value(Option::<Uuid>::None))
        .col_expr(code::Column::ClaimKey, Expr::value(Option::<String>::None))
        .filter(code::Column::CustomerId.is_in(customers.iter().map(|c| c.0)))
        .exec(conn)
        .await?;
    for c in customers {
        crm_platform::idempotency::forget_resource(conn, &c.name()).await?;
    }
    Ok(res.rows_affected)
}

/// Merge: the losers' codes are the survivor's. A loser's ClaimCoupon code becomes the
/// survivor's claim in its pool unless the survivor claimed one there itself (then both
/// codes stay given and the loser's keeps its key). Returns the codes moved.
pub async fn move_claims(
    conn: &impl ConnectionTrait,
    losers: &[CustomerId],
    survivor: CustomerId,
) -> Result<u64, Error> {
    if losers.is_empty() {
        return Ok(0);
    }
    let moved = code::Entity::update_many()
        .col_expr(code::Column::CustomerId, Expr::value(survivor.0))
        .filter(code::Column::CustomerId.is_in(losers.iter().map(|c| c.0)))
        .exec(conn)
        .await?
        .rows_affected;
    let survivor_key = customer_claim_key(survivor);
    // One loser at a time: each statement sees the keys the previous one moved, so two
    // losers with codes of one pool never both take the survivor's key there.
    for loser in losers {
        let pools_of_survivor = Query::select()
            .column(code::Column::PoolId)
            .from(code::Entity)
            .and_where(code::Column::CustomerId.eq(survivor.0))
            .and_where(code::Column::ClaimKey.eq(survivor_key.as_str()))
            .to_owned();
        code::Entity::update_many()
            .col_expr(code::Column::ClaimKey, Expr::value(survivor_key.as_str()))
            .filter(code::Column::CustomerId.eq(survivor.0))
            .filter(code::Column::ClaimKey.eq(customer_claim_key(*loser)))
            .filter(code::Column::PoolId.not_in_subquery(pools_of_survivor))
            .exec(conn)
            .await?;
    }
    Ok(moved)
}
