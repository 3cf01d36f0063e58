//! Tier history.
use super::entities::tier_change;
use crate::domain::{CustomerId, TierChange};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

fn tier_change_row(c: &TierChange) -> tier_change::ActiveModel {
    tier_change::ActiveModel {
        id: Set(c.id),
        customer_id: Set(c.customer.0),
        from_tier: Set(c.from_tier.clone()),
        to_tier: Set(c.to_tier.clone()),
        qualifying_points: Set(c.qualifying_points),
        transaction: Set(c.transaction.clone()),
        change_time: Set(c.change_time),
    }
}

fn tier_change_from_row(r: tier_change::Model) -> TierChange {
    TierChange {
        id: r.id,
        customer: CustomerId(r.customer_id),
        from_tier: r.from_tier,
        to_tier: r.to_tier,
        qualifying_points: r.qualifying_points,
        transaction: r.transaction,
        change_time: r.change_time,
    }
}

pub async fn insert_many(conn: &impl ConnectionTrait, changes: &[TierChange]) -> Result<(), Error> {
    if changes.is_empty() {
        return Ok(());
    }
    tier_change::Entity::insert_many(changes.iter().map(tier_change_row))
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
        .map(tier_change_from_row)
        .collect())
}
