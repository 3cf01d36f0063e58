//! The tickets service: customer support tickets with threads, routing to teams and agents,
//! SLAs on business hours, macros, satisfaction surveys and reporting.
//!
//! Shape (shared by every service): `grpc` (adapter) -> `service` (use cases) -> `domain`
//! (pure rules) and `store` (sea-orm) -> `migration`. `clients` calls customers and loyalty.
pub mod clients;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod migration;
pub mod service;
pub mod settings;
pub mod store;

use crm_platform::db::SchemaReadiness;
use crm_platform::page_token::PageTokens;
use crm_platform::server::Component;
use grpc::{TicketServiceServer, TicketsGrpc};
use migration::Migrator;
use service::TicketsService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use settings::Settings;

/// Name used for the database file and telemetry.
pub const SERVICE: &str = "tickets";
/// The gRPC service name reported by health.
pub const GRPC_SERVICE: &str = "crm.tickets.v1.TicketService";

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
pub async fn component(settings: &Settings) -> anyhow::Result<(Component, TicketsService)> {
    let p = &settings.platform;
    let db = crm_platform::db::connect(&p.database, SERVICE).await?;
    if p.database.migrate_on_start {
        crm_platform::db::migrate::<Migrator>(&db).await?;
    }
    let clients = clients::Clients::new(&settings.clients)?;
    let svc = TicketsService::new(
        db.clone(),
        page_tokens(&p.security.page_token_secret),
        settings.tickets.clone(),
        clients,
    )?;
    let t = &settings.tickets;
    every(3600, "idempotency purge", {
        let svc = svc.clone();
        move || {
            let svc = svc.clone();
            async move { svc.purge_idempotency_keys().await.map(|n| n > 0) }
        }
    });
    every(t.sla_interval_secs, "SLA check", {
        let svc = svc.clone();
        move || {
            let svc = svc.clone();
            async move {
                let run = svc.run_sla_check(domain::now()).await?;
                if run.breaches > 0 {
                    tracing::info!(
                        breaches = run.breaches,
                        escalated = run.escalated,
                        "SLA breaches escalated"
                    );
                }
                Ok(false)
            }
        }
    });
    every(
        t.verify_interval_secs,
        "customer verification and goodwill",
        {
            let svc = svc.clone();
            move || {
                let svc = svc.clone();
                async move {
                    // Independent passes: one failing does not hold up the other.
                    let verified = svc.verify_customers().await;
                    let awarded = svc.award_pending_goodwill().await;
                    Ok(verified? + awarded? > 0)
                }
            }
        },
    );
    let grpc = TicketsGrpc::new(svc.clone());
    let server_settings = p.server.clone();
    let component = Component {
        service_name: GRPC_SERVICE,
        register: Box::new(move |routes| {
            routes.add_service(crm_platform::configure_service!(
                TicketServiceServer::new(grpc),
                server_settings
            ));
        }),
        readiness: Arc::new(SchemaReadiness::<Migrator>::new(db)),
    };
    Ok((component, svc))
}

/// Runs `job` every `secs` seconds (0: never), first one period after start (the schema may
/// still be waiting for `migrate`). `Ok(true)` is logged as "did something".
fn every<F, Fut>(secs: u64, what: &'static str, job: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<bool, crm_platform::Error>> + Send,
{
    if secs == 0 {
        return;
    }
    tokio::spawn(async move {
        let period = Duration::from_secs(secs);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            match job().await {
                Ok(true) => tracing::info!(job = what, "background job did work"),
                Ok(false) => {}
                Err(e) => tracing::warn!(job = what, error = %e, "background job failed"),
            }
        }
    });
}

/// The tickets server, bound and ready to run.
pub type Application = crm_platform::server::Application<TicketsService>;

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
