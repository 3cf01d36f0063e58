//! The command line every service binary shares: `serve`, `migrate`, `healthcheck`.
use std::path::PathBuf;
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
    /// Ask a running server's grpc.health.v1 service; exit 0 when SERVING.
    Healthcheck {
        /// host:port of the server.
        #[arg(long)]
        addr: String,
        /// Service to ask about; empty asks about the whole server.
        #[arg(long, default_value = "")]
        service: String,
        #[arg(long, default_value_t = 3000)]
        timeout_ms: u64,
    },
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// TOML file layered over the embedded defaults.
    #[arg(long, env = "CRM_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Checks `service` on the server at `addr` (host:port or a URL).
pub async fn healthcheck(addr: &str, service: &str, timeout: Duration) -> anyhow::Result<()> {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let url = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    let channel = tonic::transport::Endpoint::from_shared(url)?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect()
        .await?;
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
