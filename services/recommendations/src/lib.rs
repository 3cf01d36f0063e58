//! The recommendations service: a catalogue of items, customers' interactions with them (from
//! customers' events and RecordInteractions), a model rebuilt on a schedule (item-item
//! similarity, association rules, time-decayed popularity) and the calls that serve from it.
//!
//! Shape (shared by every service): `grpc` (adapter) -> `service` (use cases) -> `domain`
//! (pure rules and the algorithms) and `store` (sea-orm) -> `migration`. `clients` asks
//! customers for the profiles cold start uses; `cli` adds the `rebuild` and `eval`
//! subcommands to the platform's.
pub mod cli;
pub mod clients;
pub mod domain;
pub mod error;
pub mod eval;
pub mod grpc;
pub mod migration;
pub mod service;
pub mod settings;
pub mod store;

use crm_platform::app::{Parts, Service};
use crm_platform::config::ServerSettings;
use grpc::{RecommendationServiceServer, RecommendationsGrpc};
use service::RecommendationService;
use tonic::service::RoutesBuilder;

pub use settings::Settings;

/// The recommendations service as the platform serves it.
pub struct Recommendations;

impl Service for Recommendations {
    const NAME: &'static str = "recommendations";
    const GRPC_SERVICE: &'static str = "crm.recommendations.v1.RecommendationService";
    const POLICY: &'static [crm_platform::auth::Rule] = grpc::policy::POLICY;
    type Settings = Settings;
    type Migrator = migration::Migrator;
    type UseCases = RecommendationService;

    async fn build(
        settings: &Settings,
        parts: &mut Parts,
    ) -> anyhow::Result<RecommendationService> {
        let r = &settings.recommendations;
        let backbone = parts.events()?;
        backbone.start_relay(&mut parts.jobs);
        let svc = RecommendationService::new(
            parts.core(r.paging())?,
            backbone.clone(),
            r.clone(),
            clients::Clients::new(&r.clients, &settings.platform)?,
            &mut parts.jobs,
        );
        service::events::start(&svc, &backbone, &mut parts.jobs);
        service::profiles::start(&svc, &mut parts.jobs);
        service::rebuild::start(&svc, &mut parts.jobs);
        service::serving::start(&svc, &mut parts.jobs);
        parts
            .jobs
            .purge_idempotency(parts.db.clone(), r.idempotency_retention_hours);
        Ok(svc)
    }

    fn routes(svc: RecommendationService, server: &ServerSettings, routes: &mut RoutesBuilder) {
        routes.add_service(crm_platform::configure_service!(
            RecommendationServiceServer::new(RecommendationsGrpc::new(svc)),
            server
        ));
    }

    /// Cold start asks customers for profiles: unless configured otherwise, at the suite's
    /// own address.
    fn in_suite(settings: &mut Settings, own_url: &str) {
        let url = &mut settings.recommendations.clients.customers_url;
        if url.is_empty() {
            own_url.clone_into(url);
        }
    }
}

// `SERVICE`, `GRPC_SERVICE`, `component`, `application`, `migrate` and `Application`.
crm_platform::service_api!(Recommendations);
