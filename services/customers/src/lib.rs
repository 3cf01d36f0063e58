//! The customers service: profiles, consent, dedupe/merge, activity, RFM insights, GDPR.
//!
//! Shape (shared by every service): `grpc` (adapter) -> `service` (use cases) -> `domain`
//! (pure rules) and `store` (sea-orm) -> `migration`. The wiring is [`Customers`], the
//! platform's [`Service`](crm_platform::app::Service). Every mutation also appends its facts
//! to the outbox in its own transaction ([`events`]); the relay started in `build` publishes
//! them on the `customers` stream. It consumes the erasure completions of the services in
//! `customers.erasure.reporting_services` and campaigns' unsubscribes ([`consumers`]).
pub mod consumers;
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
use grpc::{CustomerServiceServer, CustomersGrpc};
use service::CustomersService;
use tonic::service::RoutesBuilder;

pub use settings::Settings;

/// The customers service as the platform serves it.
pub struct Customers;

impl Service for Customers {
    const NAME: &'static str = "customers";
    const GRPC_SERVICE: &'static str = "crm.customers.v1.CustomerService";
    const POLICY: &'static [crm_platform::auth::Rule] = grpc::policy::POLICY;
    type Settings = Settings;
    type Migrator = migration::Migrator;
    type UseCases = CustomersService;

    async fn build(settings: &Settings, parts: &mut Parts) -> anyhow::Result<CustomersService> {
        let c = &settings.customers;
        parts
            .jobs
            .purge_idempotency(parts.db.clone(), c.idempotency_retention_hours);
        let events = parts.events()?;
        events.start_relay(&mut parts.jobs);
        let pii = parts.pii().await?;
        // Reads of personal data are recorded through a batched writer, flushed at stop.
        let access = crm_platform::audit::AccessLog::start(parts.db.clone(), &mut parts.jobs);
        let svc = CustomersService::new(
            parts.core(c.paging())?,
            events::CustomerEvents::new(events.clone()),
            c.clone(),
            pii.clone(),
            access,
        );
        crm_platform::pii::spawn_reencryption(
            &mut parts.jobs,
            pii,
            "pii-reencryption",
            store::reseal::CustomerRows {
                db: parts.db.clone(),
            },
        );
        // Group "customers.erasure" on each reporting service's stream.
        for producer in &c.erasure.reporting_services {
            let handler = consumers::ErasureCompletions::new(svc.clone(), producer.clone());
            events.start_consumer(&mut parts.jobs, producer, consumers::ERASURE, handler);
        }
        // Group "customers.unsubscribes" on the campaigns stream.
        events.start_consumer(
            &mut parts.jobs,
            consumers::CAMPAIGNS,
            consumers::UNSUBSCRIBES,
            consumers::Unsubscribes::new(svc.clone()),
        );
        Ok(svc)
    }

    fn routes(svc: CustomersService, server: &ServerSettings, routes: &mut RoutesBuilder) {
        routes.add_service(crm_platform::configure_service!(
            CustomerServiceServer::new(CustomersGrpc::new(svc)),
            server
        ));
    }
}

crm_platform::service_api!(Customers);
