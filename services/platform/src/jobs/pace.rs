//! When a job runs next: once, at a fixed period, or as a poller that slows down while it
//! finds nothing and is woken when work may be waiting.
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How [`Jobs::polling`](super::Jobs::polling) paces a poller.
#[derive(Clone, Debug)]
pub struct Poll {
    /// The wait after a run that found work (and the first wait after a wake).
    pub every: Duration,
    /// The longest wait after runs that found nothing (each such run doubles the wait).
    pub idle_max: Duration,
    /// Signalled when work may be waiting: the next run is at most `every` away.
    pub wake: Option<Wake>,
}

/// What one run of a poller found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polled {
    Work,
    Idle,
}

/// A plain job's run: it did its work.
impl From<()> for Polled {
    fn from((): ()) -> Self {
        Polled::Work
    }
}

/// A signal that work may be waiting for a poller (e.g. this process wrote outbox rows).
/// Every poller subscribed to it sees a signal given while it runs or waits.
#[derive(Clone, Debug)]
pub struct Wake(Arc<watch::Sender<u64>>);

impl Default for Wake {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }
}

impl Wake {
    pub fn signal(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The pace of one job's loop.
pub(super) enum Pace {
    /// Until the first success.
    Once,
    Every(Duration),
    Polling {
        poll: Poll,
        wake: Option<watch::Receiver<u64>>,
        /// The wait after the next run that finds nothing.
        idle: Duration,
        woken: bool,
    },
}

impl Pace {
    pub(super) fn polling(poll: Poll) -> Pace {
        let wake = poll.wake.as_ref().map(|w| w.0.subscribe());
        Pace::Polling {
            idle: poll.every,
            poll,
            wake,
            woken: false,
        }
    }

    /// A zero period: the job is off.
    pub(super) fn never(&self) -> bool {
        match self {
            Pace::Once => false,
            Pace::Every(period) => period.is_zero(),
            Pace::Polling { poll, .. } => poll.every.is_zero(),
        }
    }

    /// Waits `wait`, or for a poller's wake and then `every` more (the signaller's transaction
    /// commits meanwhile). A retry after a failure is never cut short.
    pub(super) async fn sleep(&mut self, wait: Duration, after_failure: bool) {
        match self {
            Pace::Polling {
                poll,
                wake: Some(rx),
                woken,
                ..
            } if !after_failure => {
                *woken = tokio::select! {
                    () = tokio::time::sleep(wait) => false,
                    changed = rx.changed() => changed.is_ok(),
                };
                if *woken {
                    tokio::time::sleep(poll.every.min(wait)).await;
                }
            }
            _ => tokio::time::sleep(wait).await,
        }
    }

    /// The wait before the next run after a successful one (`None`: the job is done).
    pub(super) fn next(&mut self, polled: Polled) -> Option<Duration> {
        match self {
            Pace::Once => None,
            Pace::Every(period) => Some(*period),
            Pace::Polling {
                poll, idle, woken, ..
            } => {
                if polled == Polled::Work || std::mem::take(woken) {
                    *idle = poll.every;
                }
                if polled == Polled::Work {
                    return Some(poll.every);
                }
                let wait = *idle;
                *idle = (*idle * 2).min(poll.idle_max.max(poll.every));
                Some(wait)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poller(wake: Option<Wake>) -> Pace {
        Pace::polling(Poll {
            every: Duration::from_millis(50),
            idle_max: Duration::from_millis(1000),
            wake,
        })
    }

    #[test]
    fn an_idle_poller_doubles_its_wait_up_to_the_cap_and_work_resets_it() {
        let ms = Duration::from_millis;
        let mut pace = poller(None);
        let idle: Vec<_> = (0..7)
            .map(|_| pace.next(Polled::Idle).expect("polling"))
            .collect();
        assert_eq!(idle, [50, 100, 200, 400, 800, 1000, 1000].map(ms));
        assert_eq!(pace.next(Polled::Work), Some(ms(50)));
        assert_eq!(
            pace.next(Polled::Idle),
            Some(ms(50)),
            "work reset the backoff"
        );
        assert_eq!(pace.next(Polled::Idle), Some(ms(100)));
    }

    #[tokio::test]
    async fn a_wake_cuts_an_idle_wait_short_and_resets_the_backoff() {
        let ms = Duration::from_millis;
        let wake = Wake::default();
        let mut pace = poller(Some(wake.clone()));
        for _ in 0..6 {
            pace.next(Polled::Idle);
        }
        let start = tokio::time::Instant::now();
        let signaller = wake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ms(10)).await;
            signaller.signal();
        });
        pace.sleep(Duration::from_secs(5), false).await;
        let waited = start.elapsed();
        assert!(
            waited >= ms(60) && waited < ms(2000),
            "woken, then `every`: {waited:?}"
        );
        // The run right after the wake may find nothing (the writer not committed yet): the
        // poller looks again soon, not a second later.
        assert_eq!(pace.next(Polled::Idle), Some(ms(50)));

        // A signal given while the poller runs is seen by its next wait.
        wake.signal();
        let start = tokio::time::Instant::now();
        pace.sleep(Duration::from_secs(5), false).await;
        assert!(start.elapsed() < ms(2000), "{:?}", start.elapsed());

        // A retry after a failure waits its whole backoff.
        wake.signal();
        let start = tokio::time::Instant::now();
        pace.sleep(ms(300), true).await;
        assert!(start.elapsed() >= ms(300));
    }
}
