//! The loyalty service: a double-entry points ledger with lots, tiers, holds and reversals.
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
use crm_platform::page_token::PageTokens;
use crm_platform::server::Component;
use grpc::{LoyaltyGrpc, LoyaltyServiceServer};
use migration::Migrator;
use service::LoyaltyService;
use std::sync::Arc;
use std::time::Duration;

pub use settings::Settings;

/// Name used for the database file, cache keys and telemetry.
pub const SERVICE: &str = "loyalty";
/// The gRPC service name reported by health.
pub const GRPC_SERVICE: &str = "crm.loyalty.v1.LoyaltyService";

/// The page-token key: the configured secret, or a random one for this process.
pub fn page_tokens(secret: &crm_platform::config::Secret) -> PageTokens {
    if secret.is_empty() {
        tracing::warn!(
            "security.page_token_secret is empty; using a random key (page tokens will not survive a restart)"
        );
        PageTokens::new(uuid::Uuid::new_v4().as_bytes().repeat(2).as_slice())
    } else {
        PageTokens::new(secret.expose().as_bytes())
    }
}

/// Connects, migrates (when configured) and wires the service for a server.
pub async fn component(settings: &Settings) -> anyhow::Result<(Component, LoyaltyService)> {
    let p = &settings.platform;
    let db = crm_platform::db::connect(&p.database, SERVICE).await?;
    if p.database.migrate_on_start {
        crm_platform::db::migrate::<Migrator>(&db).await?;
    }
    let cache = Cache::new(&p.cache, SERVICE)?;
    let svc = LoyaltyService::new(
        db.clone(),
        cache,
        page_tokens(&p.security.page_token_secret),
        settings.loyalty.clone(),
    )
    .with_group_commit();
    spawn_housekeeping(svc.clone());
    spawn_expiry(svc.clone(), settings.loyalty.expire_interval_secs);
    let grpc = LoyaltyGrpc::new(svc.clone());
    let server_settings = p.server.clone();
    let component = Component {
        service_name: GRPC_SERVICE,
        register: Box::new(move |routes| {
            routes.add_service(crm_platform::configure_service!(
                LoyaltyServiceServer::new(grpc),
                server_settings
            ));
        }),
        readiness: Arc::new(SchemaReadiness::<Migrator>::new(db)),
    };
    Ok((component, svc))
}

/// Hourly purge of expired idempotency records.
fn spawn_housekeeping(svc: LoyaltyService) {
    tokio::spawn(async move {
        // First run an hour after start: the schema may still be waiting for `migrate`.
        let period = Duration::from_secs(3600);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            match svc.purge_idempotency_keys().await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "expired idempotency keys purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
            }
        }
    });
}

/// The expiry job: expires due lots and timed-out holds every `interval_secs` (0: never).
/// Each wallet is expired in its own transaction under the wallet lock, so a lot expires
/// exactly once even when replicas run the job at the same time.
fn spawn_expiry(svc: LoyaltyService, interval_secs: u64) {
    if interval_secs == 0 {
        return;
    }
    tokio::spawn(async move {
        // First run one period after start, for the same reason as the purge.
        let period = Duration::from_secs(interval_secs);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            match svc.expire_due().await {
                Ok(o) if o.expired_lots > 0 || o.expired_holds > 0 => tracing::info!(
                    points = o.expired_points,
                    lots = o.expired_lots,
                    holds = o.expired_holds,
                    "expired due points"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "expiry run failed"),
            }
        }
    });
}

/// The loyalty server, bound and ready to run.
pub type Application = crm_platform::server::Application<LoyaltyService>;

/// Connects, migrates (when configured), binds the listen address.
pub async fn application(settings: Settings) -> anyhow::Result<Application> {
    let (component, service) = component(&settings).await?;
    Application::new(&settings.platform.server, component, service).await
}

/// Applies migrations and exits (the `migrate` subcommand).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = crm_platform::db::connect(&settings.platform.database, SERVICE).await?;
    crm_platform::db::migrate::<Migrator>(&db).await
}
