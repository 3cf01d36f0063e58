//! The campaigns service: marketing campaigns to segments of a read model of customers kept
//! from events, sent with consent, frequency caps, quiet hours and complaint suppression.
//!
//! Shape (shared by every service): `grpc` (adapter) -> `service` (use cases) -> `domain`
//! (pure rules) and `store` (sea-orm) -> `migration`. `senders` deliver rendered messages;
//! `clients` ask customers and loyalty for the profiles and balances events do not carry;
//! [`events`] are what campaigns publishes (stream `campaigns`).
pub mod clients;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod migration;
pub mod senders;
pub mod service;
pub mod settings;
pub mod store;

use crm_platform::app::{Parts, Service};
use crm_platform::config::ServerSettings;
use grpc::{CampaignServiceServer, CampaignsGrpc};
use service::CampaignService;
use tonic::service::RoutesBuilder;

pub use settings::Settings;

/// The campaigns service as the platform serves it.
pub struct Campaigns;

impl Service for Campaigns {
    const NAME: &'static str = "campaigns";
    const GRPC_SERVICE: &'static str = "crm.campaigns.v1.CampaignService";
    const POLICY: &'static [crm_platform::auth::Rule] = grpc::policy::POLICY;
    type Settings = Settings;
    type Migrator = migration::Migrator;
    type UseCases = CampaignService;

    async fn build(settings: &Settings, parts: &mut Parts) -> anyhow::Result<CampaignService> {
        let c = &settings.campaigns;
        let pii = parts.pii().await?;
        let backbone = parts.events()?;
        backbone.start_relay(&mut parts.jobs);
        let svc = CampaignService::new(
            parts.core(c.paging())?,
            pii,
            events::CampaignEvents::new(backbone.clone()),
            c.clone(),
            senders::Sender::from_settings(&c.sender)?,
            clients::Clients::new(&c.clients, &settings.platform)?,
        );
        service::read_model::start(&svc, &backbone, &mut parts.jobs);
        service::segments::start(&svc, &mut parts.jobs);
        service::dispatch::start(&svc, &mut parts.jobs);
        service::experiments::start(&svc, &mut parts.jobs);
        service::journeys::start(&svc, &mut parts.jobs);
        parts
            .jobs
            .purge_idempotency(parts.db.clone(), c.idempotency_retention_hours);
        Ok(svc)
    }

    fn routes(svc: CampaignService, server: &ServerSettings, routes: &mut RoutesBuilder) {
        routes.add_service(crm_platform::configure_service!(
            CampaignServiceServer::new(CampaignsGrpc::new(svc)),
            server
        ));
    }

    /// Campaigns asks customers and loyalty over gRPC even in one process: unless configured
    /// otherwise, at the suite's own address.
    fn in_suite(settings: &mut Settings, own_url: &str) {
        let c = &mut settings.campaigns.clients;
        for url in [&mut c.customers_url, &mut c.loyalty_url, &mut c.tickets_url] {
            if url.is_empty() {
                own_url.clone_into(url);
            }
        }
    }
}

crm_platform::service_api!(Campaigns);
