//! The customers service: profiles, consent, dedupe/merge, activity, RFM insights, GDPR.
//!
//! Shape (shared by every service): `grpc` (adapter) -> `service` (use cases) -> `domain`
//! (pure rules) and `store` (sea-orm) -> `migration`.
pub mod domain;
pub mod error;
pub mod grpc;
pub mod migration;
pub mod service;
pub mod settings;
pub mod store;

use crm_platform::cache::Cache;
use crm_platform::db::SchemaReadiness;
use crm_platform::jobs;
use crm_platform::page_token::PageTokens;
use crm_platform::server::Component;
use grpc::{CustomerServiceServer, CustomersGrpc};
use migration::Migrator;
use service::CustomersService;
use std::sync::Arc;

pub use settings::Settings;

/// Name used for the database file, cache keys and telemetry.
pub const SERVICE: &str = "customers";
/// The gRPC service name reported by health.
pub const GRPC_SERVICE: &str = "crm.customers.v1.CustomerService";

/// Wires the service for a server: a lazy pool, the start-up migration (when configured; a
/// database that does not answer yet is retried in the background while health says
/// NOT_SERVING), the cache and the background jobs.
pub async fn component(settings: &Settings) -> anyhow::Result<(Component, CustomersService)> {
    let p = &settings.platform;
    let db = crm_platform::db::connect(&p.database, SERVICE).await?;
    let mut background = jobs::Jobs::new();
    crm_platform::db::migrate_on_start::<Migrator>(&p.database, SERVICE, &mut background).await;
    let cache = Cache::with_generation(&p.cache, SERVICE, db.clone())?;
    let svc = CustomersService::new(
        db.clone(),
        cache,
        PageTokens::from_secret(&p.security.page_token_secret),
        settings.customers.clone(),
    );
    background.every(
        jobs::PURGE_IDEMPOTENCY,
        "idempotency purge",
        svc.clone(),
        |svc| async move { svc.purge_idempotency_keys().await.map(jobs::log_purged) },
    );
    let grpc = CustomersGrpc::new(svc.clone());
    let server_settings = p.server.clone();
    let component = Component {
        service_name: GRPC_SERVICE,
        register: Box::new(move |routes| {
            routes.add_service(crm_platform::configure_service!(
                CustomerServiceServer::new(grpc),
                server_settings
            ));
        }),
        readiness: Arc::new(SchemaReadiness::<Migrator>::new(db, &p.database)),
        jobs: background,
    };
    Ok((component, svc))
}

/// The customers server, bound and ready to run.
pub type Application = crm_platform::server::Application<CustomersService>;

/// Connects, migrates (when configured), binds the listen address.
pub async fn application(settings: Settings) -> anyhow::Result<Application> {
    let (component, service) = component(&settings).await?;
    Application::new(&settings.platform.server, component, service).await
}

/// Applies migrations and exits (the `migrate` subcommand).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    crm_platform::db::migrate_service::<Migrator>(&settings.platform.database, SERVICE).await
}
