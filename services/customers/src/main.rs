//! `crm-customers serve | migrate | healthcheck`: wiring only; the work is in the library.
use clap::Parser as _;

// mimalloc: fewer cycles per call than the system allocator on the request path (see
// BENCHMARKS.md), and much faster than musl's in the static container images.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use crm_customers::{Application, SERVICE, Settings};
use crm_platform::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Healthcheck {
            addr,
            service,
            timeout_ms,
        } => {
            crm_platform::cli::healthcheck(
                &addr,
                &service,
                std::time::Duration::from_millis(timeout_ms),
            )
            .await
        }
        Command::Migrate(args) => {
            let settings = Settings::load(args.config.as_deref())?;
            let telemetry = crm_platform::telemetry::init(SERVICE, &settings.platform.telemetry)?;
            let res = crm_customers::migrate(&settings).await;
            telemetry.shutdown().await;
            res
        }
        Command::Serve(args) => {
            let settings = Settings::load(args.config.as_deref())?;
            let telemetry = crm_platform::telemetry::init(SERVICE, &settings.platform.telemetry)?;
            let res = async {
                Application::build(settings)
                    .await?
                    .run_until_stopped()
                    .await
            }
            .await;
            if let Err(e) = &res {
                tracing::error!(error = format!("{e:#}"), "customers service failed");
            }
            telemetry.shutdown().await;
            res
        }
    }
}
