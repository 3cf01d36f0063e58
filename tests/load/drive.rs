//! The open loop: one call every 1/rate seconds for the duration, whatever the answers take
//! (a slow service does not slow the load down, as a closed loop would, hiding the slowness),
//! with at most `concurrency` calls in flight: a call due while that many are still out is
//! not sent and is counted as `skipped_busy`.
use crate::ops::{Mix, Run};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

/// How often the progress line goes to stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

pub struct Load {
    pub rate: f64,
    pub duration: Duration,
    pub concurrency: usize,
    pub mix: Mix,
}

impl Load {
    /// Sends the load, then waits for the calls still in flight (each bounded by its
    /// timeout and retries).
    pub async fn run(&self, run: &Arc<Run>) {
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / self.rate));
        // Calls due while the loop was late go out at once: the rate is kept on average.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let (start, mut progress) = (Instant::now(), Instant::now());
        let mut in_flight = JoinSet::new();
        let mut k = 0u64;
        loop {
            ticks.tick().await;
            if start.elapsed() >= self.duration {
                break;
            }
            let op = self.mix.nth(k);
            k += 1;
            match permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    let run = run.clone();
                    in_flight.spawn(async move {
                        run.perform(op).await;
                        drop(permit);
                    });
                }
                Err(_) => run.tally.skipped_busy(),
            }
            while in_flight.try_join_next().is_some() {}
            if progress.elapsed() >= PROGRESS_EVERY {
                progress = Instant::now();
                eprintln!(
                    "loadgen: {}s {}",
                    start.elapsed().as_secs(),
                    run.tally.progress()
                );
            }
        }
        while in_flight.join_next().await.is_some() {}
    }
}
