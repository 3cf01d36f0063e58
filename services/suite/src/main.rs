//! `crm-suite`: every CRM service in one process on one port, for laptops and demos
//! (`make run`). Each service keeps its own database (`{service}` in the URL) and cache keys.
use crm_platform::config::{ConfigError, TelemetrySettings};

// mimalloc: fewer cycles per call than the system allocator on the request path (see
// BENCHMARKS.md), and much faster than musl's in the static container images.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every service reads the same layered config (platform sections shared, one section each).
struct Settings {
    customers: crm_customers::Settings,
    loyalty: crm_loyalty::Settings,
}

struct Suite;

impl crm_platform::cli::Binary for Suite {
    type Settings = Settings;
    const NAME: &'static str = "crm-suite";

    fn load(file: Option<&std::path::Path>) -> Result<Settings, ConfigError> {
        Ok(Settings {
            customers: crm_customers::Settings::load(file)?,
            loyalty: crm_loyalty::Settings::load(file)?,
        })
    }
    fn telemetry(settings: &Settings) -> &TelemetrySettings {
        &settings.customers.platform.telemetry
    }
    async fn migrate(settings: &Settings) -> anyhow::Result<()> {
        crm_customers::migrate(&settings.customers).await?;
        crm_loyalty::migrate(&settings.loyalty).await
    }
    async fn serve(settings: Settings) -> anyhow::Result<()> {
        serve(settings).await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    crm_platform::cli::run::<Suite>().await
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let server = settings.customers.platform.server.clone();
    let (customers, _) = crm_customers::component(&settings.customers).await?;
    let (loyalty, _) = crm_loyalty::component(&settings.loyalty).await?;
    let listener = crm_platform::server::bind(&server).await?;
    let addr = listener.local_addr()?;
    println!("\nCRM suite listening on {addr} (services: customers, loyalty)");
    println!("try:\n  grpcurl -plaintext {addr} list");
    println!(
        "  grpcurl -plaintext -d '{{\"request_id\":\"{}\",\"customer\":{{\"display_name\":\"Li Wei\",\"primary_email\":\"li.wei@example.com\"}}}}' {addr} crm.customers.v1.CustomerService/CreateCustomer\n",
        uuid::Uuid::new_v4()
    );
    crm_platform::server::serve(
        &server,
        listener,
        vec![customers, loyalty],
        crm_platform::server::shutdown_signal(),
    )
    .await
}
