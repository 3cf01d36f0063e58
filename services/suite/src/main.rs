//! `crm-suite`: every CRM service in one process on one port, for laptops and demos
//! (`make run`). Each service keeps its own database (`{service}` in the URL) and cache keys.
use crm_platform::config::{ConfigError, Problems, TelemetrySettings};

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

    /// Every service's settings from the one file; the problems of all of them in one error.
    fn load(file: Option<&std::path::Path>) -> Result<Settings, ConfigError> {
        let mut problems = Problems::default();
        let customers = problems.take(crm_customers::Settings::load(file));
        let loyalty = problems.take(crm_loyalty::Settings::load(file));
        let tickets = problems.take(crm_tickets::Settings::load(file));
        problems.finish(customers.zip(loyalty).zip(tickets).map(
            |((customers, loyalty), tickets)| Settings {
                customers,
                loyalty,
                tickets,
            },
        ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crm_platform::cli::Binary as _;

    fn load_file(toml: &str) -> Result<Settings, ConfigError> {
        let file = std::env::temp_dir().join(format!("crm-suite-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&file, toml).expect("write config");
        let loaded = Suite::load(Some(&file));
        std::fs::remove_file(&file).ok();
        loaded
    }

    #[test]
    fn the_defaults_load() {
        assert!(load_file("").is_ok());
    }

    #[test]
    fn a_config_bad_in_two_services_reports_both() {
        let err = load_file(
            "[customers]\nmax_batch = 0\n[tickets]\nlow_score_threshold = 9\n[server]\nconcurrency_limit = 0\n",
        )
        .err()
        .expect("two services refuse it");
        let text = err.to_string();
        for want in [
            "customers.max_batch",
            "tickets.low_score_threshold",
            "server.concurrency_limit",
        ] {
            assert!(text.contains(want), "{want} missing from: {text}");
        }
        // The platform section every service reads is one problem, not one per service.
        let shared = err.0.iter().filter(|p| p.contains("server.")).count();
        assert_eq!((err.0.len(), shared), (3, 1), "{:?}", err.0);
    }
}
