//! The loyalty service: a double-entry points ledger with lots, tiers, holds and reversals.
//!
//! Shape (shared by every service): `grpc` (adapter) -> `service` (use cases) -> `domain`
//! (pure rules) and `store` (sea-orm) -> `migration`. The wiring is [`Loyalty`], the
//! platform's [`Service`](crm_platform::app::Service). On the event backbone ([`events`]) it
//! publishes every ledger fact and consumes customers' purchases and refunds and tickets'
//! goodwill.
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod migration;
pub mod service;
pub mod settings;
pub mod store;

use crm_platform::app::{Parts, Service};
use crm_platform::config::ServerSettings;
use grpc::{LoyaltyGrpc, LoyaltyServiceServer};
use service::LoyaltyService;
use tonic::service::RoutesBuilder;

pub use settings::Settings;

/// The loyalty service as the platform serves it.
pub struct Loyalty;

impl Service for Loyalty {
    const NAME: &'static str = "loyalty";
    const GRPC_SERVICE: &'static str = "crm.loyalty.v1.LoyaltyService";
    const POLICY: &'static [crm_platform::auth::Rule] = grpc::policy::POLICY;
    type Settings = Settings;
    type Migrator = migration::Migrator;
    type UseCases = LoyaltyService;

    async fn build(settings: &Settings, parts: &mut Parts) -> anyhow::Result<LoyaltyService> {
        let l = &settings.loyalty;
        let events = parts.events()?;
        events.start_relay(&mut parts.jobs);
        let produced = events::LoyaltyEvents::new(events.clone());
        let svc =
            LoyaltyService::new(parts.core(l.paging())?, produced, l.clone()).with_group_commit();
        let (producer, group) = events::consume::CUSTOMERS;
        let handler = events::consume::Consume(events::consume::CustomerFacts(svc.clone()));
        events.start_consumer(&mut parts.jobs, producer, group, handler);
        let (producer, group) = events::consume::TICKETS;
        let handler = events::consume::Consume(events::consume::TicketFacts(svc.clone()));
        events.start_consumer(&mut parts.jobs, producer, group, handler);
        parts
            .jobs
            .purge_idempotency(parts.db.clone(), l.idempotency_retention_hours);
        // Each wallet expires in its own transaction under its lock, so a lot expires exactly
        // once even when replicas run the job at the same time.
        parts.jobs.every(
            std::time::Duration::from_secs(l.expire_interval_secs),
            "expiry",
            svc.clone(),
            |svc| async move {
                let o = svc.expire_due().await?;
                if o.expired_lots > 0 || o.expired_holds > 0 {
                    tracing::info!(
                        points = o.expired_points,
                        lots = o.expired_lots,
                        holds = o.expired_holds,
                        "expired due points"
                    );
                }
                Ok(())
            },
        );
        Ok(svc)
    }

    fn routes(svc: LoyaltyService, server: &ServerSettings, routes: &mut RoutesBuilder) {
        routes.add_service(crm_platform::configure_service!(
            LoyaltyServiceServer::new(LoyaltyGrpc::new(svc)),
            server
        ));
    }
}

crm_platform::service_api!(Loyalty);
