//! W3C trace context injected into every outgoing call, so a trace continues in the callee.
use opentelemetry::propagation::Injector;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

struct Metadata<'a>(&'a mut MetadataMap);

impl Injector for Metadata<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// Interceptor that propagates the current span's trace context.
#[derive(Clone, Copy, Default)]
pub struct PropagateTrace;

impl tonic::service::Interceptor for PropagateTrace {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let cx = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut Metadata(req.metadata_mut()))
        });
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt as _;
    use tonic::service::Interceptor as _;

    #[test]
    fn outgoing_calls_carry_the_current_trace() {
        let (subscriber, _) = crate::trace_capture::subscriber();
        let _guard = tracing::subscriber::set_default(subscriber);
        let span = tracing::info_span!("handler");
        let _entered = span.enter();
        let trace_id = span.context().span().span_context().trace_id().to_string();
        let req = PropagateTrace
            .call(tonic::Request::new(()))
            .expect("intercepted");
        let header = req
            .metadata()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            header.starts_with(&format!("00-{trace_id}-")),
            "{header} should carry {trace_id}"
        );
    }
}
