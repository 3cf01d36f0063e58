//! Shared runtime of the CRM services. Every service depends on this crate and on `crm-proto`,
//! never on another service: configuration, telemetry, the gRPC server bootstrap, the error
//! model and its single mapping to gRPC, storage, the cache, typed ids, page tokens,
//! idempotency and etags, and the shape of a service ([`app`]: one trait a service implements
//! for its server, `migrate` command and binary; [`mutation`]: its write path; [`paging`]).

pub mod app;
pub mod audit;
pub mod auth;
pub mod batch_writer;
pub mod cache;
pub mod cache_generation;
pub mod catch_panic;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod deadline;
pub mod error;
pub mod etag;
pub mod events;
pub mod field_mask;
pub mod gate;
pub mod grpc;
pub mod idempotency;
pub mod ids;
pub mod import;
pub mod import_stream;
pub mod jobs;
pub mod mutation;
pub mod page_token;
pub mod paging;
pub mod panic;
pub mod pii;
pub mod reflection;
pub mod rpc_span;
pub mod server;
pub mod suite;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tls;
pub mod validate;

pub use error::{Error, ErrorCode, Violations};

/// Test support for telemetry: a subscriber with the OpenTelemetry layer that captures the
/// `trace_id` fields recorded on spans.
#[cfg(test)]
pub(crate) mod trace_capture {
    use opentelemetry::trace::TracerProvider as _;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::{Context, SubscriberExt as _};

    #[derive(Clone, Default)]
    pub struct Captured(pub Arc<Mutex<Vec<String>>>);

    struct Visitor<'a>(&'a Captured);

    impl tracing::field::Visit for Visitor<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "trace_id"
                && let Ok(mut v) = self.0.0.lock()
            {
                v.push(format!("{value:?}"));
            }
        }
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
        fn on_record(
            &self,
            _: &tracing::span::Id,
            values: &tracing::span::Record<'_>,
            _: Context<'_, S>,
        ) {
            values.record(&mut Visitor(self));
        }
    }

    /// A subscriber to install with `tracing::subscriber::set_default`.
    pub fn subscriber() -> (impl tracing::Subscriber + Send + Sync, Captured) {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let captured = Captured::default();
        let s = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(captured.clone());
        (s, captured)
    }
}
