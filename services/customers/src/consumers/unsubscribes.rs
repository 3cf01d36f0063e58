//! Group `customers.unsubscribes` on the campaigns stream: a campaign recipient's
//! unsubscribe revokes that channel's consent.
use crate::domain::CustomerId;
use crate::service::CustomersService;
use crm_platform::Error;
use crm_platform::events::{Envelope, Handler, payload_of};
use crm_proto::events::event::Payload;
use crm_proto::events::types;
use sea_orm::DatabaseTransaction;

/// The consumer name of the unsubscribe consumer: group `customers.unsubscribes` on the
/// campaigns stream.
pub const UNSUBSCRIBES: &str = "unsubscribes";
/// The stream it reads.
pub const CAMPAIGNS: &str = "campaigns";

/// Revokes the consent a campaign recipient unsubscribed from
/// (`crm.campaigns.v1.recipient.unsubscribed`), publishing ConsentChanged like any consent
/// change. An event naming no customer or channel is acknowledged and logged (retrying would
/// not change it); the customers written are dropped from the cache once committed.
pub struct Unsubscribes {
    svc: CustomersService,
    /// Customers revoked by events of a transaction not committed yet, by event id.
    touched: std::sync::Mutex<Vec<(uuid::Uuid, CustomerId)>>,
}

impl Unsubscribes {
    pub fn new(svc: CustomersService) -> Self {
        Self {
            svc,
            touched: std::sync::Mutex::new(Vec::new()),
        }
    }
}

impl Handler for Unsubscribes {
    fn event_types(&self) -> &[&str] {
        &[types::RECIPIENT_UNSUBSCRIBED]
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        let Payload::RecipientUnsubscribed(u) = payload_of(event)? else {
            return Ok(());
        };
        let customer = CustomerId::parse_name(&u.customer).ok();
        let channel = crate::grpc::convert::CHANNELS
            .iter()
            .find(|(n, _)| *n == u.channel)
            .map(|(_, c)| *c);
        let (Some(customer), Some(channel)) = (customer, channel) else {
            tracing::warn!(event = %event.id, channel = u.channel, "unsubscribe names no customer or channel; skipped");
            return Ok(());
        };
        let time = u
            .unsubscribe_time
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
            .unwrap_or(event.time);
        use crate::service::Unsubscribed;
        match self
            .svc
            .unsubscribe_in(txn, customer, channel, time)
            .await?
        {
            Unsubscribed::Revoked(id) => {
                self.touched
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((event.id, id));
                tracing::info!(customer = %id.name(), campaign = %u.campaign, "consent revoked by unsubscribe");
            }
            Unsubscribed::Unchanged(why) => {
                tracing::info!(customer = %customer.name(), campaign = %u.campaign, why, "unsubscribe changed nothing");
            }
        }
        Ok(())
    }

    async fn committed(&self, events: &[&Envelope]) {
        let ids: Vec<CustomerId> = {
            let mut touched = self
                .touched
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (done, rest): (Vec<_>, Vec<_>) = touched
                .drain(..)
                .partition(|(e, _)| events.iter().any(|c| c.id == *e));
            *touched = rest;
            done.into_iter().map(|(_, id)| id).collect()
        };
        self.svc.forget_cached(&ids).await;
    }
}
