//! Calls per second per caller identity and method class (GCRA via `governor`): a caller
//! over its budget gets RESOURCE_EXHAUSTED with how long to wait; other callers are not
//! affected. State is one small entry per active identity, pruned every [`PRUNE_PERIOD`].
use crate::auth::policy::Class;
use crate::auth::settings::RateLimitSettings;
use governor::clock::{Clock as _, DefaultClock};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// How often identities idle long enough to be at full budget are forgotten.
pub const PRUNE_PERIOD: Duration = Duration::from_secs(60);

type Keyed =
    RateLimiter<Arc<str>, governor::state::keyed::DefaultKeyedStateStore<Arc<str>>, DefaultClock>;

/// One limiter per method class; `None`: that class is unlimited.
pub struct RateLimits {
    read: Option<Keyed>,
    write: Option<Keyed>,
    admin: Option<Keyed>,
    clock: DefaultClock,
}

impl RateLimits {
    pub fn new(s: &RateLimitSettings) -> Self {
        let limiter = |per_sec: u32| {
            NonZeroU32::new(per_sec).map(|rate| {
                let burst = NonZeroU32::new(per_sec.saturating_mul(s.burst_secs)).unwrap_or(rate);
                RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
            })
        };
        Self {
            read: limiter(s.read_per_sec),
            write: limiter(s.write_per_sec),
            admin: limiter(s.admin_per_sec),
            clock: DefaultClock::default(),
        }
    }

    fn of(&self, class: Class) -> Option<&Keyed> {
        match class {
            Class::Read => self.read.as_ref(),
            Class::Write => self.write.as_ref(),
            Class::Admin => self.admin.as_ref(),
        }
    }

    /// Takes one call from `subject`'s `class` budget; `Err(wait)` when it is spent.
    pub fn check(&self, subject: &Arc<str>, class: Class) -> Result<(), Duration> {
        match self.of(class) {
            None => Ok(()),
            Some(l) => l
                .check_key(subject)
                .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
        }
    }

    /// Forgets identities at full budget (bounded memory with many callers).
    pub fn prune(&self) {
        for l in [&self.read, &self.write, &self.admin].into_iter().flatten() {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    pub fn is_unlimited(&self) -> bool {
        self.read.is_none() && self.write.is_none() && self.admin.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(read: u32, write: u32) -> RateLimits {
        RateLimits::new(&RateLimitSettings {
            read_per_sec: read,
            write_per_sec: write,
            admin_per_sec: 0,
            burst_secs: 1,
        })
    }

    #[test]
    fn a_caller_over_budget_waits_and_others_do_not() {
        let l = limits(5, 1);
        let greedy: Arc<str> = "greedy".into();
        let other: Arc<str> = "other".into();
        for _ in 0..5 {
            l.check(&greedy, Class::Read).expect("within the burst");
        }
        let wait = l.check(&greedy, Class::Read).expect_err("over budget");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        l.check(&other, Class::Read)
            .expect("another caller is unaffected");
        l.check(&greedy, Class::Write)
            .expect("another class has its own budget");
        assert!(l.check(&greedy, Class::Write).is_err(), "1 per second");
        l.check(&greedy, Class::Admin)
            .expect("admin unlimited here");
    }

    #[test]
    fn idle_callers_are_pruned() {
        let l = limits(1000, 0);
        for i in 0..100 {
            l.check(&Arc::from(format!("c{i}")), Class::Read)
                .expect("ok");
        }
        std::thread::sleep(Duration::from_millis(20));
        l.prune();
        assert_eq!(l.read.as_ref().map(|r| r.len()), Some(0));
        assert!(limits(0, 0).is_unlimited());
    }
}
