//! The template service: notes, one small resource over the platform kit.
//! The skeleton new services are copied from (`scripts/new-service.sh <name>` renames it, (template only)
//! the README's "Adding a service" walks the rest); tested with the workspace, never deployed. (template only)
//!
//! Shape (shared by every service): `grpc` (adapter) -> `service` (use cases) -> `domain`
//! (pure rules) and `store` (sea-orm) -> `migration`. The wiring is [`Template`], the
//! platform's [`Service`](crm_platform::app::Service). Rename `Note` to your resource.
pub mod domain;
pub mod error;
pub mod grpc;
pub mod migration;
pub mod service;
pub mod settings;
pub mod store;

use crm_platform::app::{Parts, Service};
use crm_platform::config::ServerSettings;
use grpc::{TemplateGrpc, TemplateServiceServer};
use service::TemplateService;
use tonic::service::RoutesBuilder;

pub use settings::Settings;

/// The template service as the platform serves it.
pub struct Template;

impl Service for Template {
    /// Its database (`{service}` in the URL), cache keys, telemetry, and the chart's key.
    const NAME: &'static str = "template";
    /// Reported by health (the chart's `healthService`).
    const GRPC_SERVICE: &'static str = "crm.template.v1.TemplateService";
    const POLICY: &'static [crm_platform::auth::Rule] = grpc::policy::POLICY;
    type Settings = Settings;
    type Migrator = migration::Migrator;
    type UseCases = TemplateService;

    async fn build(settings: &Settings, parts: &mut Parts) -> anyhow::Result<TemplateService> {
        let t = &settings.template;
        // Background jobs go here too (`parts.jobs.every(..)`), each with a setting to turn it off.
        parts
            .jobs
            .purge_idempotency(parts.db.clone(), t.idempotency_retention_hours);
        Ok(TemplateService::new(parts.core(t.paging())?, t))
    }

    fn routes(svc: TemplateService, server: &ServerSettings, routes: &mut RoutesBuilder) {
        routes.add_service(crm_platform::configure_service!(
            TemplateServiceServer::new(TemplateGrpc::new(svc)),
            server
        ));
    }
}

// `SERVICE`, `GRPC_SERVICE`, `component`, `application`, `migrate` and `Application`.
crm_platform::service_api!(Template);
