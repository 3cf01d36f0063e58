//! SLA breach claims: one row per (ticket, target, due), so each breach is handled once.
use super::entities::sla_event;
use crate::domain::{Target, TicketId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

/// Claims the handling of one breach: true for exactly one caller per (ticket, target, due).
pub async fn claim_breach(
    conn: &impl ConnectionTrait,
    ticket: TicketId,
    target: Target,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    action: &str,
) -> Result<bool, Error> {
    let n = sla_event::Entity::insert(sla_event::ActiveModel {
        ticket_id: Set(ticket.0),
        target: Set(target.as_str().to_owned()),
        due_time: Set(due),
        create_time: Set(now),
        action: Set(action.to_owned()),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(conn)
    .await?;
    Ok(matches!(n, sea_orm::TryInsertResult::Inserted(1)))
}

/// The recorded breaches of a ticket: (target, due, action).
pub async fn sla_events(
    conn: &impl ConnectionTrait,
    ticket: TicketId,
) -> Result<Vec<(String, DateTime<Utc>, String)>, Error> {
    Ok(sla_event::Entity::find()
        .filter(sla_event::Column::TicketId.eq(ticket.0))
        .order_by_asc(sla_event::Column::CreateTime)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.target, r.due_time, r.action))
        .collect())
}
