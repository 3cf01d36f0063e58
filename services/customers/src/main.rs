//! `crm-customers serve | migrate | healthcheck`: wiring only; the work is in the library.
use crm_customers::{SERVICE, Settings};
use crm_platform::config::{ConfigError, TelemetrySettings};

// mimalloc: fewer cycles per call than the system allocator on the request path (see
// BENCHMARKS.md), and much faster than musl's in the static container images.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Customers;

impl crm_platform::cli::Binary for Customers {
    type Settings = Settings;
    const NAME: &'static str = SERVICE;

    fn load(file: Option<&std::path::Path>) -> Result<Settings, ConfigError> {
        Settings::load(file)
    }
    fn telemetry(settings: &Settings) -> &TelemetrySettings {
        &settings.platform.telemetry
    }
    async fn migrate(settings: &Settings) -> anyhow::Result<()> {
        crm_customers::migrate(settings).await
    }
    async fn serve(settings: Settings) -> anyhow::Result<()> {
        crm_customers::application(settings)
            .await?
            .run_until_stopped()
            .await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    crm_platform::cli::run::<Customers>().await
}
