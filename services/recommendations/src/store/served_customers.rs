//! The served recommendations of customers as merges and erasures see them: a merge
//! re-points the losers' served answers at the survivor (their feedback still attributes);
//! an erasure deletes the customer's served answers and the feedback on them.
use super::entities::{feedback, recommendation};
use crate::domain::CustomerId;
use crm_platform::Error;
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
