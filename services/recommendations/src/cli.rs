//! The command line: the platform's subcommands (`serve`, `migrate`, ...) plus `rebuild`
//! (one model build against the configured database, then exit) and `eval` (the offline
//! evaluation, see [`crate::eval`]). Filled in by the rebuild and eval work.

/// Runs the binary.
pub async fn main() -> anyhow::Result<()> {
    crm_platform::app::main::<crate::Recommendations>().await
}
