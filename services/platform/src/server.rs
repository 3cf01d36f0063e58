//! The one server bootstrap every binary uses: health (per service, NOT_SERVING until the
//! database is reachable and migrated, and again while shutting down), reflection (v1 and
//! v1alpha), one span per RPC, per-request timeout, a global concurrency limit, and graceful
//! shutdown that drains in-flight calls up to a deadline.
use crate::config::ServerSettings;
use crate::rpc_span::RpcSpanLayer;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// Answers "can this service take traffic right now?" (database reachable, schema current).
pub trait Readiness: Send + Sync + 'static {
    fn ready(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>>;
}

/// One gRPC service as the server sees it: its name (for health), how to add its routes,
/// how to tell it is ready, and its background jobs.
pub struct Component {
    /// Fully-qualified gRPC service name, e.g. `crm.customers.v1.CustomerService`.
    pub service_name: &'static str,
    pub register: Box<dyn FnOnce(&mut RoutesBuilder) + Send>,
    pub readiness: Arc<dyn Readiness>,
}

/// Binds the listen address from settings (port 0 picks a free port).
pub async fn bind(settings: &ServerSettings) -> std::io::Result<TcpListener> {
    TcpListener::bind((settings.host.as_str(), settings.port)).await
}

/// How often readiness is re-checked.
const READINESS_PERIOD: Duration = Duration::from_secs(2);

/// Serves `components` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    settings: &ServerSettings,
    listener: TcpListener,
    components: Vec<Component>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    let (reporter, health_service) = tonic_health::server::health_reporter();
    // "" is the whole server: serving only when every component is.
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    let mut routes = RoutesBuilder::default();
    let mut checks = Vec::new();
    for c in components {
        reporter
            .set_service_status(c.service_name, ServingStatus::NotServing)
            .await;
        (c.register)(&mut routes);
        checks.push((c.service_name, c.readiness));
    }
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crm_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        // google.rpc.ErrorInfo / BadRequest: lets grpcurl and other clients decode error details.
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crm_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let watcher = tokio::spawn(watch_readiness(reporter.clone(), checks.clone()));
    // Outermost first: the deadline counts from arrival, including a wait for a permit.
    let server = tonic::transport::Server::builder()
        .layer(crate::deadline::DeadlineLayer::new(
            settings.request_timeout(),
        ))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            settings.concurrency_limit,
        ))
        .layer(RpcSpanLayer)
        .add_routes(routes.routes());

    tracing::info!(%addr, services = ?checks.iter().map(|c| c.0).collect::<Vec<_>>(), "grpc server listening");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Nagle + delayed ACK would hold back a response written in more than one segment by
    // ~40 ms; tonic only sets TCP_NODELAY on listeners it binds itself.
    let incoming = tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(std::time::Duration::from_secs(60)));
    let serving = server.serve_with_incoming_shutdown(incoming, async {
        let _ = stop_rx.await;
    });
    tokio::pin!(serving);
    tokio::select! {
        res = &mut serving => {
            watcher.abort();
            return res.map_err(Into::into);
        }
        () = shutdown => {}
    }
    watcher.abort();
    tracing::info!("shutting down: reporting NOT_SERVING and draining in-flight calls");
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    for (name, _) in &checks {
        reporter
            .set_service_status(*name, ServingStatus::NotServing)
            .await;
    }
    let _ = stop_tx.send(());
    match tokio::time::timeout(settings.shutdown_grace(), serving).await {
        Ok(res) => res?,
        Err(_) => tracing::warn!(
            grace_ms = settings.shutdown_grace_ms,
            "drain deadline passed; dropping the calls still running"
        ),
    }
    tracing::info!("server stopped");
    Ok(())
}

async fn watch_readiness(
    reporter: HealthReporter,
    checks: Vec<(&'static str, Arc<dyn Readiness>)>,
) {
    let mut last: Option<bool> = None;
    loop {
        let mut all = true;
        for (name, check) in &checks {
            let ready = check.ready().await;
            all &= ready;
            let status = if ready {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            reporter.set_service_status(*name, status).await;
        }
        if last != Some(all) {
            tracing::info!(ready = all, "readiness changed");
            last = Some(all);
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
        tokio::time::sleep(READINESS_PERIOD).await;
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received SIGINT"),
        () = term => tracing::info!("received SIGTERM"),
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
    service: S,
}

impl<S> Application<S> {
    pub async fn new(
        settings: &ServerSettings,
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
            self.listener,
            vec![self.component],
            shutdown,
        )
        .await
    }
}
