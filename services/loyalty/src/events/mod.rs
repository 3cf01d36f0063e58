//! Loyalty on the event backbone (`crm.events.v1`, README "Events").
//!
//! Producing ([`produce`]): every ledger fact — points earned (purchase, action, goodwill),
//! redeemed (Redeem, a captured hold), reversed, expired — and every tier change is
//! appended to the outbox in the transaction of the ledger write that made it, on every
//! write path (group commit included): a refused or rolled-back write appends nothing, an
//! idempotent replay writes nothing and so appends nothing. The subject of every event is
//! the wallet owner's resource name, `customers/{customer}` (the same id as the customers
//! service's), so one customer's events are in ledger order. Adjust and Transfer have no
//! event of their own (no contract yet); the tier changes they cause are published.
//!
//! Consuming ([`consume`]): group `loyalty.customers` on the customers stream (purchases
//! earn, refunds reverse) and `loyalty.tickets` on the tickets stream (goodwill after a low
//! satisfaction score).
pub mod consume;
pub mod produce;

use crate::domain::CustomerId;
use crm_platform::Error;
use crm_platform::events::Events;
use crm_proto::events::event::Payload;
use sea_orm::ConnectionTrait;

/// Loyalty's handle on the backbone: typed events of source "loyalty" into the outbox.
#[derive(Clone)]
pub struct LoyaltyEvents {
    events: Events,
}

impl LoyaltyEvents {
    pub fn new(events: Events) -> Self {
        Self { events }
    }

    /// Appends `payloads` (each about its customer, in ledger order) in `txn` with one
    /// statement, after the ledger writes they report.
    pub async fn append(
        &self,
        txn: &impl ConnectionTrait,
        payloads: Vec<(CustomerId, Payload)>,
    ) -> Result<(), Error> {
        let about = payloads.into_iter().map(|(c, p)| (c.name(), p));
        self.events.append_about(txn, about).await?;
        Ok(())
    }
}
