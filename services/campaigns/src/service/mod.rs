//! The use cases. No tonic or proto types here: the gRPC adapter parses requests into domain
//! values, calls these methods and converts the results back.
//!
//! - `segments`: saved segments, preview, on-demand members, tracked membership (enter/exit).
//! - `campaigns`: campaign CRUD and lifecycle.
//! - `dispatch`: the start job (audience -> deliveries), the dispatcher (the sending rules
//!   per recipient -> queued message) and the sender run (queued -> sent, with retries).
//! - `receipts`: delivery receipts and unsubscribes.
//! - `read_model`: the event handlers that keep the read model, its refresh and rebuild.
//! - `experiments`: the winner job of test-then-winner campaigns.
//! - `journeys`: care journeys' triggers and conditions.
//! - `report`: campaign reports (conversions, lift).
//! - `coupons`: coupon pools and claims.
//!
//! Every mutation is one transaction opened under its request's idempotency key
//! ([`Mutations::begin`](crm_platform::mutation::Mutations::begin): a retry gets the first
//! answer) and committed with its answer.
pub mod campaigns;
pub mod coupons;
pub mod dispatch;
pub mod experiments;
pub mod journeys;
pub mod read_model;
pub mod receipts;
pub mod report;
pub mod segments;

use crate::clients::Clients;
use crate::events::CampaignEvents;
use crate::senders::Sender;
use crate::settings::CampaignsSettings;
use crm_platform::Error;
use crm_platform::app::Core;
use crm_platform::pii::{Keys, Pii};
use std::sync::Arc;

#[derive(Clone)]
pub struct CampaignService {
    inner: Arc<Inner>,
}

struct Inner {
    core: Core,
    pii: Pii,
    events: CampaignEvents,
    settings: CampaignsSettings,
    sender: Sender,
    clients: Clients,
}

/// A mutation's answer and resource. Campaigns caches nothing: segments are evaluated live
/// and every other read is one primary-key lookup.
pub use crm_platform::mutation::Mutation;

impl CampaignService {
    pub fn new(
        core: Core,
        pii: Pii,
        events: CampaignEvents,
        settings: CampaignsSettings,
        sender: Sender,
        clients: Clients,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                core,
                pii,
                events,
                settings,
                sender,
                clients,
            }),
        }
    }

    pub fn core(&self) -> &Core {
        &self.inner.core
    }

    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        &self.inner.core.db
    }

    pub fn settings(&self) -> &CampaignsSettings {
        &self.inner.settings
    }

    pub fn events(&self) -> &CampaignEvents {
        &self.inner.events
    }

    pub fn sender(&self) -> &Sender {
        &self.inner.sender
    }

    pub fn clients(&self) -> &Clients {
        &self.inner.clients
    }

    pub fn pii(&self) -> &Pii {
        &self.inner.pii
    }

    /// The personal-data keys (loaded once, refreshed on rotation).
    pub async fn keys(&self) -> Result<Arc<Keys>, Error> {
        self.inner.pii.keys().await
    }
}
