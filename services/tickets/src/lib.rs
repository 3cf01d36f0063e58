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
use crm_platform::jobs;
use crm_platform::page_token::PageTokens;
use crm_platform::server::Component;
use grpc::{TicketServiceServer, TicketsGrpc};
use migration::Migrator;
use service::TicketsService;
use std::sync::Arc;

pub use settings::Settings;

/// Name used for the database file and telemetry.
pub const SERVICE: &str = "tickets";
/// The gRPC service name reported by health.
pub const GRPC_SERVICE: &str = "crm.tickets.v1.TicketService";

/// Wires the service for a server: a lazy pool, the start-up migration (when configured; a
/// database that does not answer yet is retried in the background while health says
/// NOT_SERVING), the cache and the background jobs.
pub async fn component(settings: &Settings) -> anyhow::Result<(Component, TicketsService)> {
    let p = &settings.platform;
    let db = crm_platform::db::connect(&p.database, SERVICE).await?;
    let mut background = jobs::Jobs::new();
    crm_platform::db::migrate_on_start::<Migrator>(&p.database, SERVICE, &mut background).await;
    let clients = clients::Clients::new(&settings.clients)?;
    let svc = TicketsService::new(
        db.clone(),
        PageTokens::from_secret(&p.security.page_token_secret),
        settings.tickets.clone(),
        clients,
    )?;
    // Rows written before the stats columns existed get them in the background; stats of
    // old windows are complete once this is done (it logs how many rows it filled).
    let backfill = svc.clone();
    tokio::spawn(async move {
        match backfill.backfill_ticket_columns().await {
            Ok(0) => {}
            Ok(filled) => tracing::info!(filled, "ticket stats columns backfilled"),
            Err(e) => {
                tracing::warn!(error = %e, "ticket stats columns backfill failed; retried at the next start")
            }
        }
    });
    let t = &settings.tickets;
    background.every(
        jobs::PURGE_IDEMPOTENCY,
        "idempotency purge",
        svc.clone(),
        |svc| async move { svc.purge_idempotency_keys().await.map(jobs::log_purged) },
    );
    background.every(
        std::time::Duration::from_secs(t.sla_interval_secs),
        "SLA check",
        svc.clone(),
        |svc| async move {
            let run = svc.run_sla_check(domain::now()).await?;
            if run.breaches > 0 {
                tracing::info!(
                    breaches = run.breaches,
                    escalated = run.escalated,
                    "SLA breaches escalated"
                );
            }
            Ok(())
        },
    );
    background.every(
        std::time::Duration::from_secs(t.verify_interval_secs),
        "customer verification and goodwill",
        svc.clone(),
        |svc| async move {
            // Independent passes: one failing does not hold up the other.
            let verified = svc.verify_customers().await;
            let awarded = svc.award_pending_goodwill().await;
            let settled = verified? + awarded?;
            if settled > 0 {
                tracing::info!(settled, "customer checks and goodwill settled");
            }
            Ok(())
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
        readiness: Arc::new(SchemaReadiness::<Migrator>::new(db, &p.database)),
        jobs: background,
    };
    Ok((component, svc))
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
    crm_platform::db::migrate_service::<Migrator>(&settings.platform.database, SERVICE).await
}
