//! The read model: what campaigns knows of each customer, kept from customers', loyalty's
//! and tickets' events ([`handlers`]), completed by the refresh job over gRPC ([`refresh`]:
//! profiles, traits, RFM segment, balance and tier) and rebuilt on request ([`rebuild`]).
//! Merges collapse members into the survivor; erasures remove them ([`erasure`]).
mod convert;
mod erasure;
pub mod handlers;
mod rebuild;
pub mod refresh;

use super::CampaignService;
use crm_platform::Error;
use crm_platform::events::Events;
use crm_platform::jobs::Jobs;
use std::time::Duration;

/// Starts the consumers of customers', loyalty's and tickets' streams and the refresh job.
pub fn start(svc: &CampaignService, backbone: &Events, jobs: &mut Jobs) {
    let (producer, group) = handlers::CUSTOMERS;
    backbone.start_consumer(jobs, producer, group, handlers::CustomerFacts(svc.clone()));
    let (producer, group) = handlers::LOYALTY;
    backbone.start_consumer(jobs, producer, group, handlers::LoyaltyFacts(svc.clone()));
    let (producer, group) = handlers::TICKETS;
    backbone.start_consumer(jobs, producer, group, handlers::TicketFacts(svc.clone()));
    let s = &svc.settings().read_model;
    if svc.clients().customers_configured() || svc.clients().loyalty_configured() {
        jobs.every(
            Duration::from_millis(s.refresh_interval_ms),
            "read model refresh",
            svc.clone(),
            |svc| async move {
                let run = svc.refresh_read_model().await?;
                if run.refreshed > 0 {
                    tracing::debug!(refreshed = run.refreshed, "read model refreshed");
                }
                Ok(())
            },
        );
    }
    let c = svc.clients();
    if c.customers_configured() || c.tickets_configured() {
        jobs.every(
            Duration::from_millis(s.refresh_interval_ms),
            "read model rebuild",
            svc.clone(),
            |svc| async move {
                // Every page of a rebuild in one run: each is its own transaction.
                while svc.run_rebuild().await? {}
                Ok(())
            },
        );
    }
}

/// A failed call to another service, as the job's error (logged and retried by the job).
pub(crate) fn upstream(call: &'static str, s: &tonic::Status) -> Error {
    Error::internal(anyhow::anyhow!(
        "{call} failed: {:?} {}",
        s.code(),
        s.message()
    ))
}

impl CampaignService {
    /// The member's plain facts; NOT_FOUND when the read model does not know the customer.
    pub async fn member(
        &self,
        id: crate::domain::CustomerId,
    ) -> Result<crate::domain::member::Member, Error> {
        crate::store::members::find(self.db(), id)
            .await?
            .ok_or_else(|| crate::error::member_not_found(id))
    }
}
