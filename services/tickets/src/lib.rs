//! The tickets service: customer support tickets with threads, routing to teams and agents,
//! SLAs on business hours, macros, satisfaction surveys and reporting.
//!
//! Shape (shared by every service): `grpc` (adapter) -> `service` (use cases) -> `domain`
//! (pure rules) and `store` (sea-orm) -> `migration`. `clients` asks customers and loyalty
//! questions. Every mutation appends its facts to the outbox in its own transaction
//! ([`events`]); the relay started in `build` publishes them on the `tickets` stream, and the
//! group `tickets.customers` applies customers' merges and erasures
//! ([`service::CustomerFacts`]).
//! The wiring is [`Tickets`], the platform's [`Service`](crm_platform::app::Service).
pub mod clients;
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
use grpc::{TicketServiceServer, TicketsGrpc};
use service::TicketsService;
use tonic::service::RoutesBuilder;

pub use settings::Settings;

/// The tickets service as the platform serves it.
pub struct Tickets;

impl Service for Tickets {
    const NAME: &'static str = "tickets";
    const GRPC_SERVICE: &'static str = "crm.tickets.v1.TicketService";
    const POLICY: &'static [crm_platform::auth::Rule] = grpc::policy::POLICY;
    type Settings = Settings;
    type Migrator = migration::Migrator;
    type UseCases = TicketsService;

    async fn build(settings: &Settings, parts: &mut Parts) -> anyhow::Result<TicketsService> {
        let clients = clients::Clients::new(&settings.clients, &settings.platform)?;
        let backbone = parts.events()?;
        backbone.start_relay(&mut parts.jobs);
        let svc = TicketsService::new(
            parts.db.clone(),
            parts.tokens.clone(),
            settings.tickets.clone(),
            clients,
            events::TicketEvents::new(backbone.clone()),
        )?;
        backbone.start_consumer(
            &mut parts.jobs,
            "customers",
            "customers",
            service::CustomerFacts::new(svc.clone()),
        );
        // Goodwill left pending by the earlier synchronous design goes out as events; rows
        // written before the stats columns existed get them (stats of old windows are
        // complete once this is done). Once per start, retried until done: a pod may start
        // before its migration Job has created the tables.
        parts.jobs.until_done(
            std::time::Duration::ZERO,
            "pending goodwill hand-over",
            svc.clone(),
            |svc| async move {
                svc.hand_over_pending_goodwill()
                    .await
                    .map(log_start_up_rows("pending goodwill hand-over"))
            },
        );
        parts.jobs.until_done(
            std::time::Duration::ZERO,
            "ticket stats columns backfill",
            svc.clone(),
            |svc| async move {
                svc.backfill_ticket_columns()
                    .await
                    .map(log_start_up_rows("ticket stats columns backfill"))
            },
        );
        let t = &settings.tickets;
        parts
            .jobs
            .purge_idempotency(parts.db.clone(), t.idempotency_retention_hours);
        parts.jobs.every(
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
        parts.jobs.every(
            std::time::Duration::from_secs(t.verify_interval_secs),
            "customer verification",
            svc.clone(),
            |svc| async move {
                let settled = svc.verify_customers().await?;
                if settled > 0 {
                    tracing::info!(settled, "customer checks settled");
                }
                Ok(())
            },
        );
        Ok(svc)
    }

    fn routes(svc: TicketsService, server: &ServerSettings, routes: &mut RoutesBuilder) {
        routes.add_service(crm_platform::configure_service!(
            TicketServiceServer::new(TicketsGrpc::new(svc)),
            server
        ));
    }

    /// Tickets calls customers and loyalty over gRPC even in one process: unless configured
    /// otherwise, at the suite's own address (the calls go through the same server).
    fn in_suite(settings: &mut Settings, own_url: &str) {
        let c = &mut settings.clients;
        for url in [&mut c.customers_url, &mut c.loyalty_url] {
            if url.is_empty() {
                own_url.clone_into(url);
            }
        }
    }
}

crm_platform::service_api!(Tickets);

/// Logs how many rows a start-up task changed, if any.
fn log_start_up_rows(task: &'static str) -> impl Fn(u64) {
    move |rows| {
        if rows > 0 {
            tracing::info!(rows, task, "start-up task done");
        }
    }
}
