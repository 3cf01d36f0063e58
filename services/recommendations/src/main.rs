//! `crm-recommendations serve | migrate | healthcheck | ... | rebuild | eval`: wiring only;
//! the work is in the library.

// mimalloc, as in every service binary (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    crm_recommendations::cli::main().await
}
