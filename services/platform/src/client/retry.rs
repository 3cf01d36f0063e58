//! One outgoing call with its attempts: each attempt gets the time left (at most the call
//! timeout), a retryable failure is tried again after a jittered exponential pause, and no
//! pause is taken that would end past the deadline.
use super::deadline;
use super::settings::{ClientSettings, Idempotence};
use backon::{ExponentialBuilder, Retryable as _};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use tonic::{Code, Status};

/// Runs `attempt(timeout)` until it succeeds, fails for good, runs out of attempts or the
/// deadline passes. `attempt` must end within `timeout` (the channel enforces the
/// `grpc-timeout` it is given).
pub(super) async fn run<T, F, Fut>(
    s: &ClientSettings,
    call: Idempotence,
    mut attempt: F,
) -> Result<T, Status>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let deadline = deadline::outgoing(s.total_timeout);
    let once = || {
        let timeout = deadline
            .saturating_duration_since(Instant::now())
            .min(s.call_timeout);
        let answer = (!timeout.is_zero()).then(|| attempt(timeout));
        async move {
            let Some(answer) = answer else {
                return Err(Status::deadline_exceeded("no time left for the call"));
            };
            let ends = Instant::now() + timeout;
            answer.await.map_err(|e| expired_as_deadline(e, ends))
        }
    };
    let policy = s.retry;
    let backoff = ExponentialBuilder::new()
        .with_min_delay(policy.backoff_base)
        .with_max_delay(policy.backoff_max)
        .with_max_times(policy.attempts.saturating_sub(1) as usize)
        .with_jitter();
    once.retry(backoff)
        .when(|e: &Status| policy.retries(call, e.code()))
        .adjust(|_, pause| pause.filter(|p| Instant::now() + *p < deadline))
        .notify(|e: &Status, pause| {
            tracing::debug!(code = ?e.code(), message = e.message(), ?pause, "retrying an outgoing call");
        })
        .await
}

/// The channel ends an attempt at its `grpc-timeout` with CANCELLED ("Timeout expired");
/// at or past the attempt's end that is the deadline, and is reported as such.
fn expired_as_deadline(e: Status, ends: Instant) -> Status {
    if e.code() == Code::Cancelled && Instant::now() >= ends {
        Status::deadline_exceeded(e.message().to_owned())
    } else {
        e
    }
}
