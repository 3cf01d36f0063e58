//! The `interactions` table: recording (deduplicated by `source_key`), the customer history
//! serving reads (newest first, by the `customer_id, occur_time` index) and the moves of a
//! merge and an erasure.
use super::entities::interaction::{ActiveModel, Column, Entity, Model};
use crate::domain::{CustomerId, Interaction, InteractionKind, ItemId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TryInsertResult,
};
use uuid::Uuid;

/// Rows per INSERT (11 columns each: far below every backend's bind-parameter limit).
const ROWS_PER_INSERT: usize = 500;

impl TryFrom<Model> for Interaction {
    type Error = Error;

    fn try_from(r: Model) -> Result<Self, Error> {
        let kind = InteractionKind::from_code(r.kind).ok_or_else(|| {
            Error::internal(anyhow::anyhow!("interaction {} has kind {}", r.id, r.kind))
        })?;
        Ok(Self {
            source_key: r.source_key,
            customer: CustomerId(r.customer_id),
            item: ItemId(r.item_id),
            kind,
            weight: r.weight,
            rating: i32::from(r.rating),
            quantity: r.quantity,
            basket: r.basket_id,
            occur_time: r.occur_time,
        })
    }
}

fn active(i: &Interaction, now: DateTime<Utc>) -> ActiveModel {
    ActiveModel {
        id: Set(Uuid::now_v7()),
        source_key: Set(i.source_key.clone()),
        customer_id: Set(i.customer.0),
        item_id: Set(i.item.0.clone()),
        kind: Set(i.kind.code()),
        weight: Set(i.weight),
        // Ratings are 0..=5 (checked by the adapter and the event mapping).
        rating: Set(i16::try_from(i.rating).unwrap_or(0)),
        quantity: Set(i.quantity),
        basket_id: Set(i.basket.clone()),
        occur_time: Set(i.occur_time),
        record_time: Set(now),
    }
}

/// Records `interactions`, skipping those whose `source_key` is already recorded (or repeats
/// one earlier in the list); returns how many were new.
pub async fn record(
    conn: &impl ConnectionTrait,
    interactions: &[Interaction],
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let mut recorded = 0u64;
    for chunk in interactions.chunks(ROWS_PER_INSERT) {
        let res = Entity::insert_many(chunk.iter().map(|i| active(i, now)))
            .on_conflict_do_nothing_on([Column::SourceKey])
            .exec_without_returning(conn)
            .await?;
        if let TryInsertResult::Inserted(n) = res {
            recorded = recorded.saturating_add(n);
        }
    }
    Ok(recorded)
}

/// The most recent `limit` interactions of `customer`, newest first (the seeds of serving).
pub async fn history(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    limit: u64,
) -> Result<Vec<Interaction>, Error> {
    Entity::find()
        .filter(Column::CustomerId.eq(customer.0))
        .order_by_desc(Column::OccurTime)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(Interaction::try_from)
        .collect()
}

/// Moves the interactions of `losers` to `survivor` (a merge); returns how many moved.
pub async fn move_to(
    conn: &impl ConnectionTrait,
    losers: &[CustomerId],
    survivor: CustomerId,
) -> Result<u64, Error> {
    if losers.is_empty() {
        return Ok(0);
    }
    let res = Entity::update_many()
        .col_expr(Column::CustomerId, Expr::value(survivor.0))
        .filter(Column::CustomerId.is_in(losers.iter().map(|c| c.0)))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Deletes every interaction of `customers` (an erasure); returns how many.
pub async fn delete_of(
    conn: &impl ConnectionTrait,
    customers: &[CustomerId],
) -> Result<u64, Error> {
    if customers.is_empty() {
        return Ok(0);
    }
    let res = Entity::delete_many()
        .filter(Column::CustomerId.is_in(customers.iter().map(|c| c.0)))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Which of `keys` are recorded already (at most a request's worth: RecordInteractions
/// reports its duplicates).
pub async fn recorded_keys(
    conn: &impl ConnectionTrait,
    keys: &[String],
) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for chunk in keys.chunks(ROWS_PER_INSERT) {
        let found: Vec<String> = Entity::find()
            .select_only()
            .column(Column::SourceKey)
            .filter(Column::SourceKey.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(conn)
            .await?;
        out.extend(found);
    }
    Ok(out)
}
