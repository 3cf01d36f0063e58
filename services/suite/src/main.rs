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
    tickets: crm_tickets::Settings,
}

struct Suite;

impl crm_platform::cli::Binary for Suite {
    type Settings = Settings;
    const NAME: &'static str = "crm-suite";

    fn load(file: Option<&std::path::Path>) -> Result<Settings, ConfigError> {
        Ok(Settings {
            customers: crm_customers::Settings::load(file)?,
            loyalty: crm_loyalty::Settings::load(file)?,
            tickets: crm_tickets::Settings::load(file)?,
        })
    }
    fn telemetry(settings: &Settings) -> &TelemetrySettings {
        &settings.customers.platform.telemetry
    }
    async fn migrate(settings: &Settings) -> anyhow::Result<()> {
        crm_customers::migrate(&settings.customers).await?;
        crm_loyalty::migrate(&settings.loyalty).await?;
        crm_tickets::migrate(&settings.tickets).await
    }
    async fn serve(settings: Settings) -> anyhow::Result<()> {
        serve(settings).await
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    crm_platform::cli::run::<Suite>().await
}

/// Tickets calls customers and loyalty over gRPC even in one process: unless configured
/// otherwise, at this process's own address (the calls go through the same server).
fn point_at_self(c: &mut crm_tickets::settings::ClientsSettings, addr: std::net::SocketAddr) {
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    let own = format!("http://{}", std::net::SocketAddr::new(ip, addr.port()));
    for url in [&mut c.customers_url, &mut c.loyalty_url] {
        if url.is_empty() {
            url.clone_from(&own);
        }
    }
}

async fn serve(mut settings: Settings) -> anyhow::Result<()> {
    let server = settings.customers.platform.server.clone();
    let listener = crm_platform::server::bind(&server).await?;
    let addr = listener.local_addr()?;
    point_at_self(&mut settings.tickets.clients, addr);
    let (customers, _) = crm_customers::component(&settings.customers).await?;
    let (loyalty, _) = crm_loyalty::component(&settings.loyalty).await?;
    let (tickets, _) = crm_tickets::component(&settings.tickets).await?;
    println!("\nCRM suite listening on {addr} (services: customers, loyalty, tickets)");
    println!("try:\n  grpcurl -plaintext {addr} list");
    println!(
        "  grpcurl -plaintext -d '{{\"request_id\":\"{}\",\"customer\":{{\"display_name\":\"Li Wei\",\"primary_email\":\"li.wei@example.com\"}}}}' {addr} crm.customers.v1.CustomerService/CreateCustomer\n",
        uuid::Uuid::new_v4()
    );
    crm_platform::server::serve(
        &server,
        listener,
        vec![customers, loyalty, tickets],
        crm_platform::server::shutdown_signal(),
    )
    .await
}
