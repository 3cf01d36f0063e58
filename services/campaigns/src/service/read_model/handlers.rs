//! The consumers that keep the read model: one group per producer (`campaigns.customers`,
//! `campaigns.loyalty`, `campaigns.tickets`). Each event is applied in the consumer's
//! transaction with its inbox row; handlers never call another service (what events do not
//! carry is asked by the refresh job, which they mark stale). An event that can never apply
//! (a name that is no customer's) is logged and skipped: retrying it would not help.
use super::erasure;
use crate::domain::campaign::GoalKind;
use crate::domain::member::{OrderFact, TicketFact};
use crate::domain::{CustomerId, now};
use crate::service::CampaignService;
use crate::service::journeys;
use crate::store::conversions;
use crate::store::members as store;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::events::{Envelope, Handler, payload_of};
use crm_proto::customers::{ActivityKind, ConsentState};
use crm_proto::events::event::Payload;
use crm_proto::events::types::*;
use crm_proto::tickets::Status as TicketStatus;
use sea_orm::DatabaseTransaction;

/// The producers campaigns reads and its groups' names (`campaigns.{name}`).
pub const CUSTOMERS: (&str, &str) = ("customers", "customers");
pub const LOYALTY: (&str, &str) = ("loyalty", "loyalty");
pub const TICKETS: (&str, &str) = ("tickets", "tickets");

/// The customer of a `customers/{id}` name; None (logged) when it is none.
fn customer(event: &Envelope, field: &str, name: &str) -> Option<CustomerId> {
    let id = CustomerId::parse_name(name).ok();
    if id.is_none() {
        tracing::warn!(event = %event.id, event_type = event.event_type, field, "event names no customer; skipped");
    }
    id
}

/// The `{collection}/{uuid}` tail of a resource name (`.../activities/{id}`, `tickets/{id}`).
fn last_id(event: &Envelope, field: &str, name: &str) -> Option<uuid::Uuid> {
    let id = name
        .rsplit_once('/')
        .and_then(|(_, tail)| uuid::Uuid::parse_str(tail).ok());
    if id.is_none() {
        tracing::warn!(event = %event.id, event_type = event.event_type, field, "event names no resource id; skipped");
    }
    id
}

/// A payload time, or the envelope's when unset or out of range.
fn time_of(event: &Envelope, t: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .map_or(event.time, |t| {
            use chrono::{DurationRound, TimeDelta};
            t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
        })
}

/// Group `campaigns.customers`.
pub struct CustomerFacts(pub CampaignService);

impl Handler for CustomerFacts {
    fn event_types(&self) -> &[&str] {
        &[
            CUSTOMER_CREATED,
            CUSTOMER_UPDATED,
            CUSTOMER_DELETED,
            CUSTOMER_MERGED,
            CUSTOMER_ERASED,
            ACTIVITY_RECORDED,
            REFUND_RECORDED,
            CONSENT_CHANGED,
        ]
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        let now = now();
        match payload_of(event)? {
            Payload::CustomerCreated(c) => {
                if let Some(id) = customer(event, "customer", &c.customer) {
                    store::customer_changed(txn, id, c.lifecycle_stage, now).await?;
                    let created = time_of(event, c.create_time.as_ref());
                    journeys::on_customer_created(&self.0, txn, id, created).await?;
                }
            }
            Payload::CustomerUpdated(c) => {
                if let Some(id) = customer(event, "customer", &c.customer) {
                    store::customer_changed(txn, id, c.lifecycle_stage, now).await?;
                }
            }
            Payload::CustomerDeleted(c) => {
                if let Some(id) = customer(event, "customer", &c.customer) {
                    store::customer_deleted(txn, id, now).await?;
                }
            }
            Payload::CustomerMerged(m) => {
                let Some(survivor) = customer(event, "survivor", &m.survivor) else {
                    return Ok(());
                };
                let losers: Vec<CustomerId> = m
                    .losers
                    .iter()
                    .filter_map(|l| customer(event, "losers", l))
                    .collect();
                let moved = store::customers_merged(txn, survivor, &losers, now).await?;
                tracing::info!(survivor = %m.survivor, losers = losers.len(), moved, "merged members collapsed into the survivor");
            }
            Payload::CustomerErased(e) => {
                let Some(id) = customer(event, "customer", &e.customer) else {
                    return Ok(());
                };
                let mut whose = vec![id];
                whose.extend(
                    e.merged_customers
                        .iter()
                        .filter_map(|m| customer(event, "merged_customers", m)),
                );
                erasure::erase(&self.0, txn, &whose, &e.customer, &event.id.to_string()).await?;
            }
            Payload::ActivityRecorded(a) => {
                let goal = match ActivityKind::try_from(a.kind) {
                    Ok(ActivityKind::Purchase) => GoalKind::Purchase,
                    Ok(ActivityKind::Booking) => GoalKind::Booking,
                    _ => return Ok(()),
                };
                let (Some(id), Some(activity)) = (
                    customer(event, "customer", &a.customer),
                    last_id(event, "activity", &a.activity),
                ) else {
                    return Ok(());
                };
                let order = a.order.unwrap_or_default();
                let amount = order.amount.unwrap_or_default();
                let occur_time = time_of(event, a.occur_time.as_ref());
                let converted = conversions::Activity {
                    activity,
                    customer: id.0,
                    kind: goal,
                    occur_time,
                    currency_code: amount.currency_code.clone(),
                    amount_minor: amount.amount_minor.max(0),
                };
                conversions::record(txn, &converted).await?;
                journeys::on_activity(&self.0, txn, id, activity, goal, occur_time).await?;
                if goal != GoalKind::Purchase {
                    return Ok(());
                }
                let fact = OrderFact {
                    activity,
                    customer: id,
                    occur_time,
                    currency_code: amount.currency_code,
                    amount_minor: amount.amount_minor.max(0),
                    items: order
                        .items
                        .into_iter()
                        .filter(|i| !i.item_id.is_empty() && i.quantity > 0)
                        .map(|i| (i.item_id, i.quantity))
                        .collect(),
                };
                store::record_order(txn, &fact, now).await?;
            }
            Payload::RefundRecorded(r) => {
                let (Some(id), Some(activity)) = (
                    customer(event, "customer", &r.customer),
                    last_id(event, "activity", &r.activity),
                ) else {
                    return Ok(());
                };
                let amount = r.order.and_then(|o| o.amount).unwrap_or_default();
                let fact = OrderFact {
                    activity,
                    customer: id,
                    occur_time: time_of(event, r.occur_time.as_ref()),
                    currency_code: amount.currency_code,
                    amount_minor: -amount.amount_minor.abs(),
                    // Returned items are not purchases: item conditions count purchases.
                    items: Vec::new(),
                };
                store::record_order(txn, &fact, now).await?;
            }
            Payload::ConsentChanged(c) => {
                let Some(id) = customer(event, "customer", &c.customer) else {
                    return Ok(());
                };
                let granted = c.state == ConsentState::Granted as i32;
                let time = time_of(event, c.update_time.as_ref());
                store::set_consent(txn, id, c.channel, granted, time, now).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Group `campaigns.loyalty`.
pub struct LoyaltyFacts(pub CampaignService);

impl Handler for LoyaltyFacts {
    fn event_types(&self) -> &[&str] {
        &[
            TIER_CHANGED,
            POINTS_EARNED,
            POINTS_REDEEMED,
            POINTS_REVERSED,
            POINTS_EXPIRED,
        ]
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        let now = now();
        let (name, tier) = match payload_of(event)? {
            Payload::TierChanged(t) => (t.customer, Some(t.to_tier)),
            Payload::PointsEarned(p) => (p.customer, None),
            Payload::PointsRedeemed(p) => (p.customer, None),
            Payload::PointsReversed(p) => (p.customer, None),
            Payload::PointsExpired(p) => (p.customer, None),
            _ => return Ok(()),
        };
        let Some(id) = customer(event, "customer", &name) else {
            return Ok(());
        };
        let id = store::final_survivor(txn, id).await?;
        match tier {
            Some(tier) => store::set_tier(txn, id, &tier, now).await,
            None => store::points_changed(txn, id, now).await,
        }
    }
}

/// Group `campaigns.tickets`.
pub struct TicketFacts(pub CampaignService);

/// Whether a ticket in `status` is still open (not solved or closed).
pub fn is_open(status: i32) -> bool {
    !matches!(
        TicketStatus::try_from(status),
        Ok(TicketStatus::Solved | TicketStatus::Closed)
    )
}

impl Handler for TicketFacts {
    fn event_types(&self) -> &[&str] {
        &[TICKET_CREATED, TICKET_STATUS_CHANGED, TICKET_SOLVED]
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        let now = now();
        let (ticket, name, category, open, time) = match payload_of(event)? {
            Payload::TicketCreated(t) => {
                (t.ticket, t.customer, Some(t.category), true, t.create_time)
            }
            Payload::TicketStatusChanged(t) => (
                t.ticket,
                t.customer,
                None,
                is_open(t.to_status),
                t.change_time,
            ),
            Payload::TicketSolved(t) => {
                (t.ticket, t.customer, Some(t.category), false, t.solve_time)
            }
            _ => return Ok(()),
        };
        let (Some(id), Some(ticket)) = (
            customer(event, "customer", &name),
            last_id(event, "ticket", &ticket),
        ) else {
            return Ok(());
        };
        let fact = TicketFact {
            ticket,
            customer: id,
            category,
            open,
            time: time_of(event, time.as_ref()),
        };
        store::set_ticket(txn, &fact, now).await
    }
}
