//! One span per RPC with `rpc.*` attributes, parented on the caller's W3C trace context, and
//! carrying `trace_id` so every log line inside the call can be joined to its trace. When the
//! span is disabled by the log filter, no trace-context work is done, and nothing is boxed:
//! this layer sits on the hot path of every call.
use http::{HeaderMap, Request, Response};
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt as _;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

#[derive(Clone, Copy, Default)]
pub struct RpcSpanLayer;

impl<S> tower::Layer<S> for RpcSpanLayer {
    type Service = RpcSpan<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RpcSpan { inner }
    }
}

#[derive(Clone)]
pub struct RpcSpan<S> {
    inner: S,
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

fn rpc_span<B>(req: &Request<B>) -> tracing::Span {
    let path = req.uri().path();
    let (service, method) = path
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""));
    let span = tracing::info_span!(
        "rpc",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    if !span.is_disabled() {
        let parent =
            opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(req.headers())));
        let _ = span.set_parent(parent);
        let trace_id = span.context().span().span_context().trace_id();
        span.record("trace_id", tracing::field::display(trace_id));
    }
    span
}

impl<S, B, RB> tower::Service<Request<B>> for RpcSpan<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RpcFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let span = rpc_span(&req);
        let inner = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        RpcFuture { inner, span }
    }
}

pin_project_lite::pin_project! {
    pub struct RpcFuture<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
    }
}

impl<F, RB, E> Future for RpcFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let out = std::task::ready!(this.inner.poll(cx));
        if let Ok(resp) = &out
            && !this.span.is_disabled()
        {
            // Errors come as trailers-only responses with grpc-status in the headers; a
            // missing header means a successful body follows.
            let code = resp
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("0");
            this.span.record("rpc.grpc.status_code", code);
        }
        Poll::Ready(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer as _, ServiceExt as _};

    #[tokio::test]
    async fn the_callers_trace_becomes_the_parent_and_is_logged() {
        let (subscriber, captured) = crate::trace_capture::subscriber();
        let _guard = tracing::subscriber::set_default(subscriber);
        let svc = RpcSpanLayer.layer(tower::service_fn(|_req: Request<()>| async {
            let mut resp = Response::new(());
            resp.headers_mut()
                .insert("grpc-status", "5".parse().expect("header"));
            Ok::<_, std::convert::Infallible>(resp)
        }));
        let req = Request::builder()
            .uri("/crm.customers.v1.CustomerService/GetCustomer")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .body(())
            .expect("request");
        svc.oneshot(req).await.expect("response");
        let ids = captured.0.lock().expect("lock").clone();
        assert_eq!(ids, ["4bf92f3577b34da6a3ce929d0e0e4736"]);
    }
}
