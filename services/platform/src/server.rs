//! The one server bootstrap every binary uses: health (per service, NOT_SERVING until the
//! database is reachable and migrated, and again while shutting down), reflection of what is
//! served (v1 and v1alpha), one span per RPC, a gate per service (UNIMPLEMENTED for services
//! not served, UNAVAILABLE at once while the database is known down), panics caught per call,
//! per-request timeout, a global concurrency limit, background jobs stopped at shutdown, and
//! graceful shutdown that drains in-flight calls up to a deadline; TLS / mTLS on the port when
//! `tls.enabled` (see [`tls`](crate::tls)); every call authenticated and authorized by the
//! [`auth`](crate::auth) layer from each service's table of scopes.
use crate::auth::{Auth, AuthLayer, AuthMode, AuthSettings, Policies};
use crate::catch_panic::CatchPanicLayer;
use crate::config::ServerSettings;
use crate::gate::{Gate, GateLayer};
use crate::jobs::Jobs;
use crate::rpc_span::RpcSpanLayer;
use crate::tls::TlsSettings;
use crate::tls::acceptor::Acceptor;
use futures::future::Either;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Why a component cannot take traffic; `reason` is the `ErrorInfo` reason of the calls
/// refused meanwhile (`gate::DATABASE_UNAVAILABLE` or `gate::SCHEMA_NOT_READY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    pub reason: &'static str,
    pub detail: String,
}

/// Answers "can this service take traffic right now?" (database reachable, schema current).
/// A check must bound its own time (the readiness loop waits for it).
pub trait Readiness: Send + Sync + 'static {
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), NotReady>> + Send + '_>>;
}

/// One gRPC service as the server sees it: its name (for health), how to add its routes,
/// how to tell it is ready, and its background jobs (stopped when the server stops).
pub struct Component {
    /// Fully-qualified gRPC service name, e.g. `crm.customers.v1.CustomerService`.
    pub service_name: &'static str,
    pub register: Box<dyn FnOnce(&mut RoutesBuilder) + Send>,
    pub readiness: Arc<dyn Readiness>,
    pub jobs: Jobs,
    /// The scope of every method (checked against the descriptor at start).
    pub policy: &'static [crate::auth::Rule],
}

/// Binds the listen address from settings (port 0 picks a free port).
pub async fn bind(settings: &ServerSettings) -> std::io::Result<TcpListener> {
    TcpListener::bind((settings.host.as_str(), settings.port)).await
}

/// How often readiness is re-checked while serving.
const READINESS_PERIOD: Duration = Duration::from_secs(2);
/// How often while not ready, so the gate re-opens soon after the database is back.
const NOT_READY_PERIOD: Duration = Duration::from_millis(500);

struct Check {
    name: &'static str,
    readiness: Arc<dyn Readiness>,
    gate: Arc<Gate>,
}

/// Serves `components` on `listener` (over TLS when `tls.enabled`) until `shutdown`
/// resolves, then drains.
pub async fn serve(
    settings: &ServerSettings,
    auth: &AuthSettings,
    tls: &TlsSettings,
    listener: TcpListener,
    components: Vec<Component>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    // Before anything runs: files that cannot be used stop the start.
    let acceptor = tls.enabled.then(|| Acceptor::start(tls)).transpose()?;
    let (reporter, health_service) = tonic_health::server::health_reporter();
    // "" is the whole server: serving only when every component is.
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    let mut routes = RoutesBuilder::default();
    let mut checks = Vec::new();
    let mut jobs: Vec<Jobs> = Vec::new();
    let mut served: HashMap<String, Option<Arc<Gate>>> = HashMap::new();
    let mut policies = Policies::default();
    for c in components {
        reporter
            .set_service_status(c.service_name, ServingStatus::NotServing)
            .await;
        (c.register)(&mut routes);
        jobs.push(c.jobs);
        let methods = crate::reflection::methods_of(crm_proto::FILE_DESCRIPTOR_SET, c.service_name);
        match &methods {
            Some(m) => policies
                .add(c.service_name, c.policy, m)
                .map_err(anyhow::Error::msg)?,
            None if auth.mode == AuthMode::Off => {}
            None => anyhow::bail!(
                "{}: not in the descriptor set, so its authorization table cannot be checked",
                c.service_name
            ),
        }
        let gate = Arc::new(Gate::with_methods(methods));
        served.insert(c.service_name.to_owned(), Some(gate.clone()));
        checks.push(Check {
            name: c.service_name,
            readiness: c.readiness,
            gate,
        });
    }
    let names: Vec<&str> = checks.iter().map(|c| c.name).collect();
    let crm = crate::reflection::served_descriptor_set(crm_proto::FILE_DESCRIPTOR_SET, &names)?;
    served.insert("grpc.health.v1.Health".to_owned(), None);
    routes.add_service(health_service);
    if auth.reflection {
        let (reflection_v1, reflection_v1alpha) = crate::reflection::services(&crm)?;
        for name in [
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            served.insert(name.to_owned(), None);
        }
        routes
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha);
    }
    let auth = Arc::new(Auth::new(auth, policies)?);
    let mut auth_jobs = Jobs::new();
    auth.start(&mut auth_jobs).await;
    jobs.push(auth_jobs);

    let (stop_watching, watching) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(watch_readiness(reporter.clone(), checks, watching));
    // Outermost first: the deadline counts from arrival, including a wait for a permit.
    let server = tonic::transport::Server::builder()
        .layer(crate::deadline::DeadlineLayer::new(
            settings.request_timeout(),
        ))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            settings.concurrency_limit,
        ))
        .layer(RpcSpanLayer)
        .layer(GateLayer::new(Arc::new(served)))
        .layer(AuthLayer::new(auth))
        .layer(CatchPanicLayer)
        .add_routes(routes.routes());

    tracing::info!(%addr, services = ?names, tls = tls.enabled, "grpc server listening");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Nagle + delayed ACK would hold back a response written in more than one segment by
    // ~40 ms; tonic only sets TCP_NODELAY on listeners it binds itself.
    let incoming = tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(std::time::Duration::from_secs(60)));
    let stop = async {
        let _ = stop_rx.await;
    };
    // The plain path serves the TCP streams themselves, as before.
    let serving = match acceptor {
        Some(acceptor) => {
            Either::Left(server.serve_with_incoming_shutdown(acceptor.incoming(incoming), stop))
        }
        None => Either::Right(server.serve_with_incoming_shutdown(incoming, stop)),
    };
    tokio::pin!(serving);
    let early = tokio::select! {
        res = &mut serving => Some(res),
        () = shutdown => None,
    };
    // The watcher is stopped and awaited first, so no late SERVING lands after NOT_SERVING.
    let _ = stop_watching.send(true);
    let _ = watcher.await;
    if let Some(res) = early {
        for j in &mut jobs {
            j.stop().await;
        }
        return res.map_err(Into::into);
    }
    tracing::info!("shutting down: reporting NOT_SERVING and draining in-flight calls");
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    for name in &names {
        reporter
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
    let _ = stop_tx.send(());
    let drained = tokio::time::timeout(settings.shutdown_grace(), serving).await;
    // After the drain: calls in flight still had their jobs (e.g. the access audit's writer,
    // whose stop hook then writes out what they queued).
    for j in &mut jobs {
        j.stop().await;
    }
    match drained {
        Ok(res) => res?,
        Err(_) => tracing::warn!(
            grace_ms = settings.shutdown_grace_ms,
            "drain deadline passed; dropping the calls still running"
        ),
    }
    tracing::info!("server stopped");
    Ok(())
}

/// Re-checks every component until `stop` turns true; a check in progress when it does is
/// abandoned, so nothing is reported after the loop returns.
async fn watch_readiness(
    reporter: HealthReporter,
    checks: Vec<Check>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    // The reason each component was last not ready (None: ready), to log changes only.
    let mut last: HashMap<&'static str, Option<&'static str>> = HashMap::new();
    loop {
        let mut all = true;
        for c in &checks {
            let outcome = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => return,
                o = c.readiness.check() => o,
            };
            all &= outcome.is_ok();
            c.gate
                .set(outcome.as_ref().map(|_| ()).map_err(|n| n.reason));
            let reason = outcome.as_ref().err().map(|n| n.reason);
            if last.insert(c.name, reason) != Some(reason) {
                match &outcome {
                    Ok(()) => tracing::info!(service = c.name, "ready"),
                    Err(n) => {
                        tracing::warn!(service = c.name, reason = n.reason, detail = %n.detail, "not ready")
                    }
                }
            }
            let status = if outcome.is_ok() {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            reporter.set_service_status(c.name, status).await;
        }
        reporter
            .set_service_status(
                "",
                if all {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                },
            )
            .await;
        let period = if all {
            READINESS_PERIOD
        } else {
            NOT_READY_PERIOD
        };
        let recheck = futures::future::select_all(
            checks
                .iter()
                .map(|c| Box::pin(c.gate.recheck_wanted()))
                .collect::<Vec<_>>(),
        );
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(period) => {}
            _ = recheck => {}
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C). A handler that cannot be registered is logged and
/// never fires (the other one still can): it must not look like a signal.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        let mut s = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        match s.recv().await {
            Some(()) => Ok(()),
            None => Err(std::io::Error::other("the SIGTERM listener closed")),
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<std::io::Result<()>>();
    first_signal(ctrl_c, term).await;
}

/// The first of two signal listeners to fire; one that fails is logged and waits forever.
async fn first_signal(
    int: impl Future<Output = std::io::Result<()>>,
    term: impl Future<Output = std::io::Result<()>>,
) {
    async fn listen(name: &'static str, signal: impl Future<Output = std::io::Result<()>>) {
        match signal.await {
            Ok(()) => tracing::info!(signal = name, "received shutdown signal"),
            Err(e) => {
                tracing::error!(signal = name, error = %e, "cannot listen for this signal; only the other one stops the server");
                std::future::pending::<()>().await;
            }
        }
    }
    tokio::select! {
        () = listen("SIGINT", int) => {}
        () = listen("SIGTERM", term) => {}
    }
}

/// Applies the platform's per-service settings to a generated tonic server: message size
/// limits both ways and gzip accepted (and used for replies when the client accepts it).
#[macro_export]
macro_rules! configure_service {
    ($server:expr, $settings:expr) => {
        $server
            .max_decoding_message_size($settings.max_message_bytes)
            .max_encoding_message_size($settings.max_message_bytes)
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
            .send_compressed(tonic::codec::CompressionEncoding::Gzip)
    };
}

/// A built, bound, not yet serving server for one service, plus that service's use-case
/// handle (tests and benchmarks inspect it). Binding first gives callers the port at once
/// (port 0 picks a free one).
pub struct Application<S> {
    port: u16,
    listener: TcpListener,
    component: Component,
    settings: ServerSettings,
    auth: AuthSettings,
    tls: TlsSettings,
    service: S,
}

impl<S> Application<S> {
    pub async fn new(
        settings: &ServerSettings,
        auth: &AuthSettings,
        tls: &TlsSettings,
        component: Component,
        service: S,
    ) -> anyhow::Result<Self> {
        let listener = bind(settings).await?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            port,
            listener,
            component,
            settings: settings.clone(),
            auth: auth.clone(),
            tls: tls.clone(),
            service,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn service(&self) -> &S {
        &self.service
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        serve(
            &self.settings,
            &self.auth,
            &self.tls,
            self.listener,
            vec![self.component],
            shutdown,
        )
        .await
    }
}

#[cfg(test)]
mod tests;
