//! The events campaigns publishes (`crm.events.v1`, stream `campaigns`): unsubscribes,
//! segment membership changes, sent messages. No payload carries contact data.
use crm_platform::Error;
use crm_platform::events::Events;
use crm_proto::events::event::Payload;
use sea_orm::ConnectionTrait;

/// The name ErasureCompleted gives this service (its envelope `source` too).
pub const SERVICE: &str = "campaigns";

/// Campaigns' handle on the backbone.
#[derive(Clone)]
pub struct CampaignEvents {
    events: Events,
}

impl CampaignEvents {
    pub fn new(events: Events) -> Self {
        Self { events }
    }

    pub fn backbone(&self) -> &Events {
        &self.events
    }

    /// Appends `payloads` about `subject` in `txn`, after the write they report.
    pub async fn append(
        &self,
        txn: &impl ConnectionTrait,
        subject: &str,
        payloads: Vec<Payload>,
    ) -> Result<(), Error> {
        if !payloads.is_empty() {
            self.events.append(txn, subject, payloads).await?;
        }
        Ok(())
    }

    /// Appends each payload about its own subject with one statement.
    pub async fn append_about(
        &self,
        txn: &impl ConnectionTrait,
        payloads: Vec<(String, Payload)>,
    ) -> Result<(), Error> {
        self.events.append_about(txn, payloads).await?;
        Ok(())
    }
}
