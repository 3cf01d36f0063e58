//! `crm-tickets serve | migrate | healthcheck`: wiring only; the work is in the library.
use crm_platform::config::{ConfigError, TelemetrySettings};
use crm_tickets::{SERVICE, Settings};

// mimalloc, as in every service binary (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Tickets;

impl crm_platform::cli::Binary for Tickets {
    type Settings = Settings;
    const NAME: &'static str = SERVICE;

    fn load(file: Option<&std::path::Path>) -> Result<Settings, ConfigError> {
        Settings::load(file)
    }
    fn telemetry(settings: &Settings) -> &TelemetrySettings {
        &settings.platform.telemetry
    }
    async fn migrate(settings: &Settings) -> anyhow::Result<()> {
        crm_tickets::migrate(settings).await
    }
    async fn serve(settings: Settings) -> anyhow::Result<()> {
        crm_tickets::application(settings)
            .await?
            .run_until_stopped()
            .await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    crm_platform::cli::run::<Tickets>().await
}
