//! Tier history.
use super::entities::tier_change;
use crate::domain::CustomerId;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChange {
    pub id: Uuid,
    pub customer: CustomerId,
    pub from_tier: String,
    pub to_tier: String,
    pub qualifying_points: i64,
    pub transaction: String,
    pub change_time: DateTime<Utc>,
}

pub async fn insert_many(conn: &impl ConnectionTrait, changes: &[TierChange]) -> Result<(), Error> {
    if changes.is_empty() {
        return Ok(());
    }
    tier_change::Entity::insert_many(changes.iter().map(|c| tier_change::ActiveModel {
        id: Set(c.id),
        customer_id: Set(c.customer.0),
        from_tier: Set(c.from_tier.clone()),
        to_tier: Set(c.to_tier.clone()),
        qualifying_points: Set(c.qualifying_points),
        transaction: Set(c.transaction.clone()),
        change_time: Set(c.change_time),
    }))
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// One ListTierHistory page, newest first; `before` is the id of the last change of the
/// previous page (ids are time-ordered UUIDv7).
pub fn list_select(
    customer: CustomerId,
    before: Option<Uuid>,
    limit: u64,
) -> sea_orm::Select<tier_change::Entity> {
    let mut cond = Condition::all().add(tier_change::Column::CustomerId.eq(customer.0));
    if let Some(b) = before {
        cond = cond.add(tier_change::Column::Id.lt(b));
    }
    tier_change::Entity::find()
        .filter(cond)
        .order_by_desc(tier_change::Column::Id)
        .limit(limit)
}

/// Newest first; `before` is the id of the last change of the previous page.
pub async fn list(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<TierChange>, Error> {
    Ok(list_select(customer, before, limit)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| TierChange {
            id: r.id,
            customer: CustomerId(r.customer_id),
            from_tier: r.from_tier,
            to_tier: r.to_tier,
            qualifying_points: r.qualifying_points,
            transaction: r.transaction,
            change_time: r.change_time,
        })
        .collect())
}
