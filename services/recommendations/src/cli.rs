//! The command line: the platform's subcommands (`serve`, `migrate`, ...) plus `rebuild`
//! (one model build against the configured database, then exit) and `eval` (the offline
//! evaluation, see [`crate::eval`]). Those two are recognised by the first argument; the rest
//! goes to the platform's parser.
use clap::Parser as _;
use std::path::PathBuf;

/// `crm-recommendations rebuild [--config FILE]`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "crm-recommendations rebuild",
    about = "Build and publish one model version, then exit"
)]
struct RebuildArgs {
    /// TOML file layered over the embedded defaults.
    #[arg(long, env = "CRM_CONFIG")]
    config: Option<PathBuf>,
}

/// Runs the binary.
pub async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("rebuild") => {
            let a = RebuildArgs::parse_from(&args[1..]);
            let settings = crate::Settings::load(a.config.as_deref())?;
            let telemetry =
                crm_platform::telemetry::init(crate::SERVICE, &settings.platform.telemetry)?;
            let result = crate::service::rebuild::run_once(settings).await;
            if let Err(e) = &result {
                tracing::error!(error = format!("{e:#}"), "rebuild failed");
            }
            telemetry.shutdown().await;
            result
        }
        Some("eval") => {
            let a = crate::eval::Args::parse_from(&args[1..]);
            // The evaluation is CPU work only: off the async runtime's threads.
            tokio::task::spawn_blocking(move || crate::eval::run(&a)).await?
        }
        _ => crm_platform::app::main::<crate::Recommendations>().await,
    }
}
