//! The command line every service binary shares: `serve`, `migrate`, `healthcheck`.
use crate::tls::TlsClientSettings;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve gRPC until SIGTERM/SIGINT.
    Serve(ConfigArgs),
    /// Apply pending database migrations and exit.
    Migrate(ConfigArgs),
    /// Re-drive the dead-lettered events of a producer's stream (Redis bus) and exit.
    Replay(ReplayArgs),
    /// Print a development token signed by the configured HS256 issuer (never for
    /// production: there tokens come from Kubernetes or your identity provider).
    Token(TokenArgs),
    /// Ask a running server's grpc.health.v1 service; exit 0 when SERVING.
    Healthcheck {
        /// host:port of the server, or its URL (`https://` dials TLS with the `[tls.client]`
        /// files of the configuration, e.g. the service's own client certificate for mTLS).
        #[arg(long)]
        addr: String,
        /// Service to ask about; empty asks about the whole server.
        #[arg(long, default_value = "")]
        service: String,
        /// Bound on each attempt.
        #[arg(long, default_value_t = 3000)]
        timeout_ms: u64,
        /// Keep asking (every 500 ms) until SERVING or this much time has passed; 0 asks
        /// once. For a check that may start with the server, or before the network lets it
        /// through (a NetworkPolicy agent programs a new pod's address a moment after it starts).
        #[arg(long, default_value_t = 0)]
        wait_ms: u64,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// TOML file layered over the embedded defaults.
    #[arg(long, env = "CRM_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The producing service whose stream's dead letters are re-driven, e.g. "customers".
    #[arg(long)]
    pub producer: String,
    /// Only those dead-lettered at or after this time (RFC 3339).
    #[arg(long)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only those dead-lettered at or before this time (RFC 3339).
    #[arg(long)]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The token's subject (`sub`): a caller's name, or `customers/{id}` for a customer's own
    /// token.
    #[arg(long)]
    pub subject: String,
    /// A scope to grant, e.g. customers.read (repeatable).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl_secs: u64,
}

/// A token for `args` from the first `[[auth.issuers]]` with an HS256 secret.
pub fn development_token(
    auth: &crate::auth::AuthSettings,
    args: &TokenArgs,
) -> anyhow::Result<String> {
    let issuer = auth
        .issuers
        .iter()
        .find(|i| !i.hs256_secret.is_empty())
        .ok_or_else(|| anyhow::anyhow!("no [[auth.issuers]] with an hs256_secret is configured"))?;
    anyhow::ensure!(
        (1..=86_400 * 30).contains(&args.ttl_secs),
        "--ttl-secs must be between 1 and 2592000"
    );
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let audience = issuer.audiences.first().map_or("", String::as_str);
    let claims = crate::auth::mint::claims(
        &issuer.issuer,
        audience,
        &args.subject,
        &scopes,
        Duration::from_secs(args.ttl_secs),
    );
    crate::auth::mint::hs256(issuer.hs256_secret.expose(), &claims)
}

/// [`healthcheck`] until it passes or `wait` has passed (zero: once), every 500 ms.
pub async fn healthcheck_within(
    addr: &str,
    service: &str,
    timeout: Duration,
    wait: Duration,
    tls: &TlsClientSettings,
) -> anyhow::Result<()> {
    const PAUSE: Duration = Duration::from_millis(500);
    let deadline = std::time::Instant::now() + wait;
    loop {
        match healthcheck_with(addr, service, timeout, tls).await {
            Ok(()) => return Ok(()),
            Err(e) if std::time::Instant::now() + PAUSE < deadline => {
                eprintln!("not serving yet: {e:#}");
                tokio::time::sleep(PAUSE).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Checks `service` on the server at `addr` (host:port or a URL; no TLS files).
pub async fn healthcheck(addr: &str, service: &str, timeout: Duration) -> anyhow::Result<()> {
    healthcheck_with(addr, service, timeout, &TlsClientSettings::default()).await
}

/// [`healthcheck`] of an `https://` address with the CA and client certificate of `tls`.
pub async fn healthcheck_with(
    addr: &str,
    service: &str,
    timeout: Duration,
    tls: &TlsClientSettings,
) -> anyhow::Result<()> {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let url = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    let endpoint = tonic::transport::Endpoint::from_shared(url)?
        .connect_timeout(timeout)
        .timeout(timeout);
    let channel = if endpoint.uri().scheme_str() == Some("https") {
        let connector = crate::tls::TlsConnector::new(tls)?;
        endpoint.connect_with_connector(connector).await?
    } else {
        endpoint.connect().await?
    };
    let resp = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await?
        .into_inner();
    let status = ServingStatus::try_from(resp.status).unwrap_or(ServingStatus::Unknown);
    anyhow::ensure!(
        status == ServingStatus::Serving,
        "service {service:?} is {}",
        status.as_str_name()
    );
    Ok(())
}

/// The `[tls.client]` section of the layered configuration (defaults -> `file` -> env).
pub fn tls_client_settings(file: Option<&Path>) -> anyhow::Result<TlsClientSettings> {
    let mut loader = crate::config::Loader::new(&[], file)?;
    let tls = loader.section("tls.client");
    Ok(loader.finish(tls)?)
}

/// What a binary plugs into the shared command line.
pub trait Binary {
    type Settings: Send;
    /// Default service name for telemetry (`OTEL_SERVICE_NAME` wins).
    const NAME: &'static str;
    fn load(file: Option<&std::path::Path>) -> Result<Self::Settings, crate::config::ConfigError>;
    fn telemetry(settings: &Self::Settings) -> &crate::config::TelemetrySettings;
    fn events(settings: &Self::Settings) -> &crate::config::EventsSettings;
    fn auth(settings: &Self::Settings) -> &crate::auth::AuthSettings;
    fn migrate(
        settings: &Self::Settings,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
    fn serve(
        settings: Self::Settings,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
}

/// Parses the command line and runs `serve`, `migrate`, `replay` or `healthcheck` for `B`; telemetry
/// is set up around the first two and flushed at exit.
pub async fn run<B: Binary>() -> anyhow::Result<()> {
    use clap::Parser as _;
    let (args, serving) = match Cli::parse().command {
        Command::Healthcheck {
            addr,
            service,
            timeout_ms,
            wait_ms,
            config,
        } => {
            let (timeout, wait) = (
                Duration::from_millis(timeout_ms),
                Duration::from_millis(wait_ms),
            );
            // Only a TLS check reads the configuration: a plain one works without any.
            let tls = if addr.starts_with("https://") {
                tls_client_settings(config.config.as_deref())?
            } else {
                TlsClientSettings::default()
            };
            return healthcheck_within(&addr, &service, timeout, wait, &tls).await;
        }
        Command::Replay(r) => {
            let settings = B::load(r.config.config.as_deref())?;
            let range = crate::events::TimeRange {
                from: r.from,
                to: r.to,
            };
            let n = crate::events::replay_dead_letters(B::events(&settings), &r.producer, range)
                .await?;
            println!("replayed {n} dead letters of {}", r.producer);
            return Ok(());
        }
        Command::Token(t) => {
            let settings = B::load(t.config.config.as_deref())?;
            println!("{}", development_token(B::auth(&settings), &t)?);
            return Ok(());
        }
        Command::Migrate(args) => (args, false),
        Command::Serve(args) => (args, true),
    };
    let settings = B::load(args.config.as_deref())?;
    let telemetry = crate::telemetry::init(B::NAME, B::telemetry(&settings))?;
    let result = if serving {
        B::serve(settings).await
    } else {
        B::migrate(&settings).await
    };
    if let Err(e) = &result {
        tracing::error!(error = format!("{e:#}"), "{} failed", B::NAME);
    }
    telemetry.shutdown().await;
    result
}

#[cfg(test)]
mod token_tests {
    use super::*;
    use crate::auth::settings::{AuthMode, IssuerSettings};
    use crate::config::Secret;

    #[test]
    fn a_development_token_verifies_with_its_scopes() {
        let mut auth = crate::auth::AuthSettings::embedded();
        auth.mode = AuthMode::Jwt;
        auth.issuers = vec![IssuerSettings::hs256(
            "crm-dev",
            "crm",
            "a-development-secret-of-at-least-32-bytes",
        )];
        let customer = uuid::Uuid::now_v7();
        let args = TokenArgs {
            config: ConfigArgs { config: None },
            subject: format!("customers/{customer}"),
            scopes: vec!["customers.read".into()],
            ttl_secs: 60,
        };
        let token = development_token(&auth, &args).expect("signs");
        let p = crate::auth::verify::Verifier::new(&auth)
            .expect("verifier")
            .verify(&token)
            .expect("valid");
        assert!(p.has("customers.read") && !p.has("customers.write"));
        assert_eq!(p.customer, Some(customer));
        auth.issuers[0].hs256_secret = Secret::default();
        assert!(
            development_token(&auth, &args).is_err(),
            "no HS256 issuer, no token"
        );
    }
}
