//! `crm-suite`: every CRM service in one process on one port, for laptops and demos
//! (`make run`). Each service keeps its own database (`{service}` in the URL) and cache keys.
use clap::Parser as _;

// mimalloc: fewer cycles per call than the system allocator on the request path (see
// BENCHMARKS.md), and much faster than musl's in the static container images.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
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
            let customers = crm_customers::Settings::load(args.config.as_deref())?;
            let telemetry =
                crm_platform::telemetry::init("crm-suite", &customers.platform.telemetry)?;
            let res = crm_customers::migrate(&customers).await;
            telemetry.shutdown().await;
            res
        }
        Command::Serve(args) => {
            // Every service reads the same layered config; the platform sections are shared.
            let customers = crm_customers::Settings::load(args.config.as_deref())?;
            let telemetry =
                crm_platform::telemetry::init("crm-suite", &customers.platform.telemetry)?;
            let res = serve(customers).await;
            if let Err(e) = &res {
                tracing::error!(error = format!("{e:#}"), "suite failed");
            }
            telemetry.shutdown().await;
            res
        }
    }
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
