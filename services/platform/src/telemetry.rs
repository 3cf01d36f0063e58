//! Logs and traces: tracing-subscriber (pretty on a terminal, JSON otherwise) plus an
//! OpenTelemetry tracer, exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//! W3C trace context is the propagator, so trace ids cross service boundaries.
use crate::config::{LogFormat, TelemetrySettings};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::io::IsTerminal as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes spans on drop; keep it alive for the life of the process.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Flushes pending spans. Blocking work runs off the async threads, which avoids the
    /// exporter deadlock seen when shutting down from a current-thread runtime.
    pub async fn shutdown(mut self) {
        if let Some(p) = self.provider.take() {
            let _ = tokio::task::spawn_blocking(move || p.shutdown()).await;
        }
    }
}

/// Installs the global subscriber, tracer and propagator. Call once, from `main`.
pub fn init(
    default_service_name: &str,
    settings: &TelemetrySettings,
) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let service_name =
        std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| default_service_name.to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.clone())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    let exporting = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some_and(|v| !v.is_empty());
    if exporting {
        // The builder reads OTEL_EXPORTER_OTLP_ENDPOINT / _TIMEOUT / _HEADERS itself.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    // Without an exporter the provider still assigns trace ids, so logs carry them.
    let provider = builder.build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let otel_layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name));

    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::try_new(v)?,
        _ => EnvFilter::try_new(&settings.level)?,
    };
    let format = match settings.format {
        LogFormat::Auto if std::io::stdout().is_terminal() => LogFormat::Pretty,
        LogFormat::Auto => LogFormat::Json,
        f => f,
    };
    let fmt_layer = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Compact => tracing_subscriber::fmt::layer().compact().boxed(),
        _ => tracing_subscriber::fmt::layer().pretty().boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer)
        .with(otel_layer)
        .try_init()?;
    // Panics become one log event like any other line, not plain text on stderr.
    crate::panic::install_hook();
    tracing::info!(exporting, "telemetry started");
    Ok(TelemetryGuard {
        provider: Some(provider),
    })
}
