//! Calls per second per caller identity and method class (GCRA via `governor`): a caller
//! over its budget gets RESOURCE_EXHAUSTED with how long to wait; other callers are not
//! affected. Each identity has its own lock-free limiters, found once per verified token (the
//! principal keeps them), so the hot path takes no lock. Identities unused for longer than
//! their budget takes to refill are forgotten every [`PRUNE_PERIOD`].
use crate::auth::policy::Class;
use crate::auth::settings::RateLimitSettings;
use governor::clock::{Clock as _, DefaultClock};
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How often idle identities are forgotten.
pub const PRUNE_PERIOD: Duration = Duration::from_secs(60);

type Direct = RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    DefaultClock,
    governor::middleware::NoOpMiddleware<<DefaultClock as governor::clock::Clock>::Instant>,
>;

/// One identity's budgets, one per method class (`None`: unlimited).
pub struct SubjectLimits {
    by_class: [Option<Direct>; 3],
    /// Milliseconds since the registry started, at the last call.
    last_used_ms: AtomicU64,
}

/// The quotas, and every active identity's limiters.
pub struct RateLimits {
    quotas: [Option<Quota>; 3],
    subjects: RwLock<HashMap<Arc<str>, Arc<SubjectLimits>>>,
    started: Instant,
    clock: DefaultClock,
    /// Longest time a budget takes to refill completely.
    refill: Duration,
}

fn index(class: Class) -> usize {
    match class {
        Class::Read => 0,
        Class::Write => 1,
        Class::Admin => 2,
    }
}

impl RateLimits {
    pub fn new(s: &RateLimitSettings) -> Self {
        let quota = |per_sec: u32| {
            NonZeroU32::new(per_sec).map(|rate| {
                let burst = NonZeroU32::new(per_sec.saturating_mul(s.burst_secs)).unwrap_or(rate);
                Quota::per_second(rate).allow_burst(burst)
            })
        };
        Self {
            quotas: [
                quota(s.read_per_sec),
                quota(s.write_per_sec),
                quota(s.admin_per_sec),
            ],
            subjects: RwLock::new(HashMap::new()),
            started: Instant::now(),
            clock: DefaultClock::default(),
            refill: Duration::from_secs(u64::from(s.burst_secs) + 1),
        }
    }

    pub fn is_unlimited(&self) -> bool {
        self.quotas.iter().all(Option::is_none)
    }

    /// `subject`'s limiters (created on first use).
    pub fn of(&self, subject: &Arc<str>) -> Arc<SubjectLimits> {
        if let Some(l) = self
            .subjects
            .read()
            .ok()
            .and_then(|m| m.get(subject).cloned())
        {
            return l;
        }
        let mut map = match self.subjects.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(subject.clone())
            .or_insert_with(|| {
                Arc::new(SubjectLimits {
                    by_class: self.quotas.map(|q| q.map(RateLimiter::direct)),
                    last_used_ms: AtomicU64::new(0),
                })
            })
            .clone()
    }

    /// Takes one call from `limits`' `class` budget; `Err(wait)` when it is spent.
    pub fn check(&self, limits: &SubjectLimits, class: Class) -> Result<(), Duration> {
        let Some(l) = &limits.by_class[index(class)] else {
            return Ok(());
        };
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        limits.last_used_ms.store(now_ms, Ordering::Relaxed);
        l.check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets identities idle for longer than their budget takes to refill (bounded memory
    /// with many callers; one that comes back starts with a full budget, as it would have).
    pub fn prune(&self) {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let idle_ms = u64::try_from(self.refill.as_millis()).unwrap_or(u64::MAX);
        if let Ok(mut map) = self.subjects.write() {
            map.retain(|_, l| {
                now_ms.saturating_sub(l.last_used_ms.load(Ordering::Relaxed)) <= idle_ms
            });
            map.shrink_to_fit();
        }
    }

    /// Identities with limiters held.
    pub fn len(&self) -> usize {
        self.subjects.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let greedy = l.of(&Arc::from("greedy"));
        let other = l.of(&Arc::from("other"));
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
        let again = l.of(&Arc::from("greedy"));
        assert!(
            l.check(&again, Class::Read).is_err(),
            "the same identity shares its budget"
        );
    }

    #[test]
    fn idle_callers_are_pruned() {
        let mut l = limits(1000, 0);
        // A registry started 10 s ago: calls made "at its start" are 10 s old.
        l.started = Instant::now() - Duration::from_secs(10);
        for i in 0..100 {
            let s = l.of(&Arc::from(format!("c{i}")));
            l.check(&s, Class::Read).expect("ok");
        }
        let idle = l.of(&Arc::from("idle"));
        l.prune();
        assert_eq!(
            l.len(),
            100,
            "used just now: kept; never used since its start: forgotten"
        );
        drop(idle);
        assert!(limits(0, 0).is_unlimited());
    }
}
