//! The server's front door for each call, by the service in its path:
//! - a service this binary does not serve, or a method its descriptor does not have:
//!   UNIMPLEMENTED naming it (tonic's own answer has an empty message);
//! - a served service whose readiness check failed (database unreachable, schema behind):
//!   UNAVAILABLE at once with the reason (`DATABASE_UNAVAILABLE`, `SCHEMA_NOT_READY`), instead
//!   of every call waiting for the pool's acquire timeout. This is the database breaker: the
//!   readiness loop closes it and re-opens it by itself when a check passes again, and a call
//!   answered UNAVAILABLE while it is open asks for an immediate re-check.
use http::{Request, Response};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt as _};

/// Reason of calls refused while the database does not answer.
pub const DATABASE_UNAVAILABLE: &str = "DATABASE_UNAVAILABLE";
/// Reason of calls refused while migrations are pending.
pub const SCHEMA_NOT_READY: &str = "SCHEMA_NOT_READY";

const OPEN: u8 = 0;
const DATABASE_DOWN: u8 = 1;
const SCHEMA_BEHIND: u8 = 2;

/// The breaker of one served service. Starts open (calls pass) until a check fails.
#[derive(Default)]
pub struct Gate {
    state: AtomicU8,
    recheck: tokio::sync::Notify,
    /// The service's methods, when its descriptor is known.
    methods: Option<std::collections::HashSet<String>>,
}

impl Gate {
    /// A gate that also answers calls of other `methods` itself.
    pub fn with_methods(methods: Option<std::collections::HashSet<String>>) -> Self {
        Self {
            methods,
            ..Self::default()
        }
    }

    /// Records a readiness outcome; `Err(reason)` closes the gate with that reason.
    pub fn set(&self, outcome: Result<(), &'static str>) {
        let state = match outcome {
            Ok(()) => OPEN,
            Err(SCHEMA_NOT_READY) => SCHEMA_BEHIND,
            Err(_) => DATABASE_DOWN,
        };
        self.state.store(state, Ordering::Release);
    }

    /// The reason calls are refused, if they are.
    pub fn closed_reason(&self) -> Option<&'static str> {
        match self.state.load(Ordering::Acquire) {
            OPEN => None,
            SCHEMA_BEHIND => Some(SCHEMA_NOT_READY),
            _ => Some(DATABASE_UNAVAILABLE),
        }
    }

    /// Resolves when a call saw UNAVAILABLE (the readiness loop then checks at once).
    pub async fn recheck_wanted(&self) {
        self.recheck.notified().await;
    }
}

/// The error domain of a gRPC service, e.g. `customers.crm` for `crm.customers.v1.X`.
pub fn domain_of(service: &str) -> String {
    match service.split('.').collect::<Vec<_>>().as_slice() {
        ["crm", name, ..] => format!("{name}.crm"),
        _ => "crm".to_owned(),
    }
}

/// A trailers-only gRPC answer with an `ErrorInfo` reason.
pub fn status_response<B: Default>(
    code: Code,
    reason: &str,
    message: String,
    service: &str,
) -> Response<B> {
    let details = ErrorDetails::with_error_info(reason, domain_of(service), HashMap::new());
    tonic::Status::with_error_details(code, message, details).into_http()
}

/// Services served by this binary; `None`: no gate (health, reflection).
pub type Served = Arc<HashMap<String, Option<Arc<Gate>>>>;

#[derive(Clone)]
pub struct GateLayer {
    served: Served,
}

impl GateLayer {
    pub fn new(served: Served) -> Self {
        Self { served }
    }
}

impl<S> tower::Layer<S> for GateLayer {
    type Service = GateService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            inner,
            served: self.served.clone(),
        }
    }
}

#[derive(Clone)]
pub struct GateService<S> {
    inner: S,
    served: Served,
}

/// `(service, method)` of a gRPC path `/service/method`.
fn split_path(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""))
}

impl<S, B, RB> tower::Service<Request<B>> for GateService<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>>,
    RB: Default,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = GateFuture<S::Future, RB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (service, method) = split_path(req.uri().path());
        let refused = match self.served.get(service) {
            None => Some(status_response(
                Code::Unimplemented,
                "UNIMPLEMENTED",
                format!("service {service} is not served by this server"),
                service,
            )),
            Some(Some(gate))
                if gate
                    .methods
                    .as_ref()
                    .is_some_and(|m| !m.contains(method)) =>
            {
                Some(status_response(
                    Code::Unimplemented,
                    "UNIMPLEMENTED",
                    format!("{service} has no method {method:?}"),
                    service,
                ))
            }
            Some(Some(gate)) => gate.closed_reason().map(|reason| {
                gate.recheck.notify_one();
                status_response(
                    Code::Unavailable,
                    reason,
                    format!("{service} cannot reach its database or schema right now; retry with backoff"),
                    service,
                )
            }),
            Some(None) => None,
        };
        match refused {
            Some(resp) => GateFuture::Refused { resp: Some(resp) },
            None => GateFuture::Passed {
                gate: self.served.get(service).cloned().flatten(),
                inner: self.inner.call(req),
            },
        }
    }
}

pin_project_lite::pin_project! {
    #[project = GateProj]
    pub enum GateFuture<F, RB> {
        Refused { resp: Option<Response<RB>> },
        Passed { gate: Option<Arc<Gate>>, #[pin] inner: F },
    }
}

impl<F, RB, E> Future for GateFuture<F, RB>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = Result<Response<RB>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GateProj::Refused { resp } => match resp.take() {
                Some(r) => Poll::Ready(Ok(r)),
                None => Poll::Pending,
            },
            GateProj::Passed { gate, inner } => {
                let out = std::task::ready!(inner.poll(cx));
                if let (Ok(resp), Some(gate)) = (&out, gate.as_ref())
                    && resp
                        .headers()
                        .get("grpc-status")
                        .is_some_and(|v| v.as_bytes() == b"14")
                {
                    // Maybe the database went away: check now rather than at the next tick.
                    gate.recheck.notify_one();
                }
                Poll::Ready(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_follow_the_package() {
        assert_eq!(
            domain_of("crm.customers.v1.CustomerService"),
            "customers.crm"
        );
        assert_eq!(domain_of("grpc.health.v1.Health"), "crm");
    }

    #[test]
    fn the_gate_remembers_why_it_is_closed() {
        let g = Gate::default();
        assert_eq!(g.closed_reason(), None);
        g.set(Err(DATABASE_UNAVAILABLE));
        assert_eq!(g.closed_reason(), Some(DATABASE_UNAVAILABLE));
        g.set(Err(SCHEMA_NOT_READY));
        assert_eq!(g.closed_reason(), Some(SCHEMA_NOT_READY));
        g.set(Ok(()));
        assert_eq!(g.closed_reason(), None);
    }
}
