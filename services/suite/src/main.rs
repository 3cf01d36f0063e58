//! `crm-suite`: every CRM service in one process on one port, for laptops and demos
//! (`make run`). Each service keeps its own database (`{service}` in the URL) and cache keys.
use crm_platform::config::{ConfigError, TelemetrySettings};

// mimalloc: fewer cycles per call than the system allocator on the request path (see
// BENCHMARKS.md), and much faster than musl's in the static container images.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Suite;

impl crm_platform::cli::Binary for Suite {
    // Every service reads the same layered config; the platform sections are shared.
    type Settings = crm_customers::Settings;
    const NAME: &'static str = "crm-suite";

    fn load(file: Option<&std::path::Path>) -> Result<Self::Settings, ConfigError> {
        crm_customers::Settings::load(file)
    }
    fn telemetry(settings: &Self::Settings) -> &TelemetrySettings {
        &settings.platform.telemetry
    }
    async fn migrate(settings: &Self::Settings) -> anyhow::Result<()> {
        crm_customers::migrate(settings).await
    }
    async fn serve(settings: Self::Settings) -> anyhow::Result<()> {
        serve(settings).await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    crm_platform::cli::run::<Suite>().await
}

async fn serve(customers: crm_customers::Settings) -> anyhow::Result<()> {
    let server = customers.platform.server.clone();
    let (customers_component, _) = crm_customers::component(&customers).await?;
    let listener = crm_platform::server::bind(&server).await?;
    let addr = listener.local_addr()?;
    println!("\nCRM suite listening on {addr} (services: customers)");
    println!("try:\n  grpcurl -plaintext {addr} list");
    println!(
        "  grpcurl -plaintext -d '{{\"request_id\":\"{}\",\"customer\":{{\"display_name\":\"Li Wei\",\"primary_email\":\"li.wei@example.com\"}}}}' {addr} crm.customers.v1.CustomerService/CreateCustomer\n",
        uuid::Uuid::new_v4()
    );
    crm_platform::server::serve(
        &server,
        listener,
        vec![customers_component],
        crm_platform::server::shutdown_signal(),
    )
    .await
}
