//! The served recommendations of customers as merges and erasures see them: a merge
//! re-points the losers' served answers at the survivor (their feedback still attributes);
//! an erasure deletes the customer's served answers and the feedback on them, and leaves a
//! tombstone so that answers still queued in a served log are dropped when they land.
use super::entities::{erased_customer, feedback, recommendation};
use crate::domain::{CustomerId, RecommendationId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// Moves the served answers of `losers` to `survivor`; returns how many.
pub async fn move_to(
    conn: &impl ConnectionTrait,
    losers: &[CustomerId],
    survivor: CustomerId,
) -> Result<u64, Error> {
    if losers.is_empty() {
        return Ok(0);
    }
    let res = recommendation::Entity::update_many()
        .col_expr(recommendation::Column::CustomerId, Expr::value(survivor.0))
        .filter(recommendation::Column::CustomerId.is_in(losers.iter().map(|c| c.0)))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Deletes the served answers of `customers` and the feedback on them; returns how many
/// rows (answers and feedback).
pub async fn delete_of(
    conn: &impl ConnectionTrait,
    customers: &[CustomerId],
) -> Result<u64, Error> {
    if customers.is_empty() {
        return Ok(0);
    }
    let ids = customers.iter().map(|c| c.0);
    let of_them = Query::select()
        .column(recommendation::Column::Id)
        .from(recommendation::Entity)
        .and_where(recommendation::Column::CustomerId.is_in(ids.clone()))
        .to_owned();
    let fb = feedback::Entity::delete_many()
        .filter(feedback::Column::RecommendationId.in_subquery(of_them))
        .exec(conn)
        .await?;
    let served = recommendation::Entity::delete_many()
        .filter(recommendation::Column::CustomerId.is_in(ids))
        .exec(conn)
        .await?;
    Ok(fb.rows_affected.saturating_add(served.rows_affected))
}

/// Remembers `customers` as erased at `at` (again: the first time stays).
pub async fn mark_erased(
    conn: &impl ConnectionTrait,
    customers: &[CustomerId],
    at: DateTime<Utc>,
) -> Result<(), Error> {
    if customers.is_empty() {
        return Ok(());
    }
    let rows = customers.iter().map(|c| erased_customer::ActiveModel {
        customer_id: Set(c.0),
        erase_time: Set(at),
    });
    erased_customer::Entity::insert_many(rows)
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Deletes those of `answers` served to an erased customer (just written by a late batch;
/// no feedback can name them yet); returns how many.
pub async fn drop_erased(
    conn: &impl ConnectionTrait,
    answers: &[RecommendationId],
) -> Result<u64, Error> {
    if answers.is_empty() {
        return Ok(0);
    }
    let erased = Query::select()
        .column(erased_customer::Column::CustomerId)
        .from(erased_customer::Entity)
        .to_owned();
    let res = recommendation::Entity::delete_many()
        .filter(recommendation::Column::Id.is_in(answers.iter().map(|a| a.0)))
        .filter(recommendation::Column::CustomerId.in_subquery(erased))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Deletes tombstones older than `cutoff` (no answer that old is kept).
pub async fn purge_erased(
    conn: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
) -> Result<u64, Error> {
    let res = erased_customer::Entity::delete_many()
        .filter(erased_customer::Column::EraseTime.lt(cutoff))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}
