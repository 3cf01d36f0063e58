//! Background jobs of a service: one loop per job, owned by a [`Jobs`] set that the server
//! stops at shutdown (and that stops its jobs when dropped). A run that fails or panics is
//! logged once (with the job name), counted, and retried with backoff; the loop never dies.
use crate::Error;
use crate::panic::Caught;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tracing::Instrument as _;

mod pace;
use pace::Pace;
pub use pace::{Poll, Polled, Wake};

/// First retry delay after a failed or panicked run; it doubles up to the job's period, or
/// to [`RETRY_CAP_FLOOR`] for a job with a shorter period.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Failures of a frequent job (the event relay runs every 50 ms) back off to at least this,
/// so that a database away (or a schema a migration Job is still creating) costs a few
/// log lines a minute, not twenty a second.
const RETRY_CAP_FLOOR: Duration = Duration::from_secs(10);

/// Retries of a one-shot task ([`Jobs::until_done`]) back off to at most this.
const ONE_SHOT_RETRY_CAP: Duration = Duration::from_secs(30);

/// Outcome counters of one job, for logs and tests.
#[derive(Debug, Default)]
pub struct JobStats {
    pub runs: AtomicU64,
    pub failures: AtomicU64,
    pub panics: AtomicU64,
}

/// Delays between retries of a failed job: `first`, doubling up to `cap`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Backoff {
    first: Duration,
    cap: Duration,
}

impl Backoff {
    const ONE_SHOT: Backoff = Backoff {
        first: FIRST_RETRY,
        cap: ONE_SHOT_RETRY_CAP,
    };

    /// A periodic job's: from 1 s (or its period, when shorter) to its period (or
    /// [`RETRY_CAP_FLOOR`], when longer).
    fn of_period(period: Duration) -> Backoff {
        Backoff {
            first: FIRST_RETRY.min(period),
            cap: period.max(RETRY_CAP_FLOOR),
        }
    }
}

/// Work a job asks to finish at shutdown (e.g. writing out a buffer), before it is aborted.
type StopHook = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long [`Jobs::stop`] waits for each stop hook.
const STOP_HOOK_WAIT: Duration = Duration::from_secs(5);

/// The running background tasks of a component. Dropping it aborts them.
#[derive(Default)]
pub struct Jobs {
    tasks: JoinSet<()>,
    on_stop: Vec<StopHook>,
}

impl Jobs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `job(state)` every `period` (zero: never). The first run is one period after
    /// start. A failure or panic is retried after 1 s, 2 s, 4 s ... (at most `period`, or
    /// [`RETRY_CAP_FLOOR`] when that is longer); a job shorter than 1 s starts its retries at
    /// its period.
    pub fn every<S, F, Fut>(
        &mut self,
        period: Duration,
        name: &'static str,
        state: S,
        job: F,
    ) -> Arc<JobStats>
    where
        S: Clone + Send + 'static,
        F: Fn(S) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send,
    {
        self.schedule(
            period,
            Pace::Every(period),
            Backoff::of_period(period),
            name,
            state,
            job,
        )
    }

    /// Runs `job(state)` as a poller: again after `poll.every` while it finds work, waiting
    /// twice as long after each run that found none (up to `poll.idle_max`), and at most
    /// `poll.every` after `poll.wake` is signalled. Failures back off as in [`Jobs::every`].
    pub fn polling<S, F, Fut>(
        &mut self,
        poll: Poll,
        name: &'static str,
        state: S,
        job: F,
    ) -> Arc<JobStats>
    where
        S: Clone + Send + 'static,
        F: Fn(S) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Polled, Error>> + Send,
    {
        let retry = Backoff::of_period(poll.every);
        self.schedule(poll.every, Pace::polling(poll), retry, name, state, job)
    }

    /// Runs `job(state)` after `first_run` and, until it succeeds, again after 1 s, 2 s, 4 s
    /// ... (at most 30 s), each failure logged: start-up work that may find its tables not
    /// created yet (a pod starts before its migration Job ends) or its database away.
    pub fn until_done<S, F, Fut>(
        &mut self,
        first_run: Duration,
        name: &'static str,
        state: S,
        job: F,
    ) -> Arc<JobStats>
    where
        S: Clone + Send + 'static,
        F: Fn(S) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), Error>> + Send,
    {
        self.schedule(first_run, Pace::Once, Backoff::ONE_SHOT, name, state, job)
    }

    /// The loop of a job: runs at `first_run`, then at the `pace`, failures retried with
    /// `retry`.
    fn schedule<S, F, Fut, R>(
        &mut self,
        first_run: Duration,
        mut pace: Pace,
        retry: Backoff,
        name: &'static str,
        state: S,
        job: F,
    ) -> Arc<JobStats>
    where
        S: Clone + Send + 'static,
        F: Fn(S) -> Fut + Send + 'static,
        Fut: Future<Output = Result<R, Error>> + Send,
        R: Into<Polled>,
    {
        let stats = Arc::new(JobStats::default());
        if pace.never() {
            return stats;
        }
        let counters = stats.clone();
        self.tasks.spawn(
            async move {
                let mut wait = first_run;
                let mut delay = retry.first;
                let mut failed = false;
                loop {
                    pace.sleep(wait, failed).await;
                    counters.runs.fetch_add(1, Ordering::Relaxed);
                    let polled = match Caught::new(job(state.clone())).await {
                        Ok(Ok(done)) => Some(done.into()),
                        Ok(Err(e)) => {
                            let failures = counters.failures.fetch_add(1, Ordering::Relaxed) + 1;
                            tracing::warn!(job = name, error = %e, failures, retry_ms = delay.as_millis() as u64, "background job failed");
                            None
                        }
                        Err(report) => {
                            let panics = counters.panics.fetch_add(1, Ordering::Relaxed) + 1;
                            tracing::error!(
                                job = name,
                                panic.message = %report.message,
                                panic.location = %report.location,
                                panic.backtrace = %report.backtrace,
                                panics,
                                retry_ms = delay.as_millis() as u64,
                                "background job panicked"
                            );
                            None
                        }
                    };
                    failed = polled.is_none();
                    let Some(polled) = polled else {
                        wait = delay;
                        delay = (delay * 2).min(retry.cap);
                        continue;
                    };
                    delay = retry.first;
                    match pace.next(polled) {
                        Some(next) => wait = next,
                        None => return,
                    }
                }
            }
            .instrument(tracing::info_span!("job", job = name)),
        );
        stats
    }

    /// Purges idempotency records older than `retention_hours` from `db` every
    /// [`PURGE_IDEMPOTENCY`]; a retry after that is treated as a new request.
    pub fn purge_idempotency(
        &mut self,
        db: sea_orm::DatabaseConnection,
        retention_hours: u64,
    ) -> Arc<JobStats> {
        let retention = crate::idempotency::retention(retention_hours);
        self.every(
            PURGE_IDEMPOTENCY,
            "idempotency purge",
            db,
            move |db| async move {
                crate::idempotency::purge_older_than(&db, retention)
                    .await
                    .map(log_purged)
            },
        )
    }

    /// Runs `task` once in the set (e.g. start-up work retried until it succeeds).
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// Runs `hook` when the set is stopped, before the jobs are aborted (at most
    /// [`STOP_HOOK_WAIT`] each): a job's last flush.
    pub fn on_stop(&mut self, hook: impl Future<Output = ()> + Send + 'static) {
        self.on_stop.push(Box::pin(hook));
    }

    /// Runs the stop hooks, then cancels every job and waits until none is running.
    pub async fn stop(&mut self) {
        for hook in std::mem::take(&mut self.on_stop) {
            if tokio::time::timeout(STOP_HOOK_WAIT, hook).await.is_err() {
                tracing::warn!(
                    wait_ms = STOP_HOOK_WAIT.as_millis() as u64,
                    "a job's stop hook did not finish in time"
                );
            }
        }
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// How often expired idempotency records are purged.
pub const PURGE_IDEMPOTENCY: Duration = Duration::from_secs(3600);

/// Logs a purge of `n` expired idempotency records, if any.
pub fn log_purged(n: u64) {
    if n > 0 {
        tracing::info!(purged = n, "expired idempotency keys purged");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_run_is_counted_and_retried_with_backoff() {
        let calls = Arc::new(AtomicU64::new(0));
        let mut jobs = Jobs::new();
        let retry = Backoff {
            first: Duration::from_millis(50),
            cap: Duration::from_secs(3600),
        };
        let stats = jobs.schedule(
            Duration::ZERO,
            Pace::Every(Duration::from_secs(3600)),
            retry,
            "flaky",
            calls.clone(),
            |calls| async move {
                // Panics twice, fails once, then succeeds.
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => panic!("flaky job"),
                    2 => Err(Error::internal(anyhow::anyhow!("still flaky"))),
                    _ => Ok(()),
                }
            },
        );
        // Retries after 50, 100 and 200 ms, not after another hour each.
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            4,
            "the loop survived its panics"
        );
        assert_eq!(stats.panics.load(Ordering::SeqCst), 2);
        assert_eq!(stats.failures.load(Ordering::SeqCst), 1);
        assert_eq!(stats.runs.load(Ordering::SeqCst), 4);
        jobs.stop().await;
    }

    #[test]
    fn a_frequent_job_backs_off_past_its_period_a_slow_one_up_to_it() {
        let ms = Duration::from_millis;
        // The relay (50 ms): retries after 50, 100, 200 ... ms, capped at 10 s, not 50 ms.
        assert_eq!(
            Backoff::of_period(ms(50)),
            Backoff {
                first: ms(50),
                cap: RETRY_CAP_FLOOR
            }
        );
        let hour = Duration::from_secs(3600);
        assert_eq!(
            Backoff::of_period(hour),
            Backoff {
                first: FIRST_RETRY,
                cap: hour
            }
        );
    }

    #[tokio::test]
    async fn a_one_shot_job_retries_until_its_first_success_then_stops() {
        let calls = Arc::new(AtomicU64::new(0));
        let mut jobs = Jobs::new();
        let retry = Backoff {
            first: Duration::from_millis(20),
            cap: Duration::from_millis(40),
        };
        let stats = jobs.schedule(
            Duration::ZERO,
            Pace::Once,
            retry,
            "backfill",
            calls.clone(),
            |calls| async move {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0..=2 => Err(Error::internal(anyhow::anyhow!("relation does not exist"))),
                    _ => Ok(()),
                }
            },
        );
        // Now, then after 20, 40 and 40 ms; never again.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(stats.failures.load(Ordering::SeqCst), 3);
        jobs.stop().await;
    }

    #[tokio::test]
    async fn stopped_jobs_run_no_more_and_release_their_state() {
        let state = Arc::new(AtomicU64::new(0));
        let mut jobs = Jobs::new();
        jobs.every(
            Duration::from_millis(20),
            "tick",
            state.clone(),
            |s| async move {
                s.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(state.load(Ordering::SeqCst) > 0);
        jobs.stop().await;
        assert_eq!(Arc::strong_count(&state), 1, "the job's task is gone");
        let after = state.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(state.load(Ordering::SeqCst), after);
    }
}
