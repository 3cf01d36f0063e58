//! `crm-customers serve | migrate | healthcheck`: wiring only; the work is in the library.

// mimalloc: fewer cycles per call than the system allocator on the request path (see
// BENCHMARKS.md), and much faster than musl's in the static container images.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    crm_platform::app::main::<crm_customers::Customers>().await
}
