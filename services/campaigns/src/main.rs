//! `crm-campaigns serve | migrate | healthcheck`: wiring only; the work is in the library.

// mimalloc, as in every service binary (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    crm_platform::app::main::<crm_campaigns::Campaigns>().await
}
