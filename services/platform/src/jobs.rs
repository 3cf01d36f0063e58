//! Background jobs of a service: one loop per job, with its outcome logged.
use crate::Error;
use std::future::Future;
use std::time::Duration;

/// Runs `job(state)` every `secs` seconds (0: never). The first run is one period after
/// start, since the schema may still be waiting for `migrate`. The job logs what it did
/// itself; a failure is logged here and the next run comes as planned.
pub fn every<S, F, Fut>(secs: u64, what: &'static str, state: S, job: F)
where
    S: Clone + Send + 'static,
    F: Fn(S) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Error>> + Send,
{
    if secs == 0 {
        return;
    }
    tokio::spawn(async move {
        let period = Duration::from_secs(secs);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            if let Err(e) = job(state.clone()).await {
                tracing::warn!(job = what, error = %e, "background job failed");
            }
        }
    });
}

/// How often expired idempotency records are purged.
pub const PURGE_IDEMPOTENCY_SECS: u64 = 3600;

/// Logs a purge of `n` expired idempotency records, if any.
pub fn log_purged(n: u64) {
    if n > 0 {
        tracing::info!(purged = n, "expired idempotency keys purged");
    }
}
