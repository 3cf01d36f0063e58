//! What the calls of the run came to: per operation and in total, failures per gRPC code,
//! retries, and the latency of the answered calls (retries included: what a caller waits).
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
struct Counts {
    sent: u64,
    ok: u64,
    /// Calls retried at least once, answered in the end or not.
    retried: u64,
    /// Attempts after the first, over all calls, by what the retried attempt failed with.
    retries_by_code: BTreeMap<String, u64>,
    failed_by_code: BTreeMap<String, u64>,
    /// Calls not sent at their time because `--concurrency` calls were already in flight.
    skipped_busy: u64,
    ok_latency_us: Vec<u64>,
    by_op: BTreeMap<&'static str, [u64; 3]>,
}

#[derive(Default)]
pub struct Tally(Mutex<Counts>);

impl Tally {
    /// A logical call of `op` that was retried after attempts failing with `retried_on`,
    /// in `latency` in all: answered, or failed under `failure` (see `retry::failure_key`).
    pub fn call(
        &self,
        op: &'static str,
        retried_on: &[String],
        latency: Duration,
        failure: Option<String>,
    ) {
        let mut c = self.lock();
        c.sent += 1;
        c.retried += u64::from(!retried_on.is_empty());
        for code in retried_on {
            *c.retries_by_code.entry(code.clone()).or_default() += 1;
        }
        let per_op = c.by_op.entry(op).or_default();
        per_op[0] += 1;
        match failure {
            None => {
                per_op[1] += 1;
                c.ok += 1;
                c.ok_latency_us
                    .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
            }
            Some(code) => {
                per_op[2] += 1;
                *c.failed_by_code.entry(code).or_default() += 1;
            }
        }
    }

    pub fn skipped_busy(&self) {
        self.lock().skipped_busy += 1;
    }

    /// One line for the progress log.
    pub fn progress(&self) -> String {
        let c = self.lock();
        let failed: u64 = c.failed_by_code.values().sum();
        format!(
            "sent={} ok={} failed={failed} retried={} skipped_busy={}",
            c.sent, c.ok, c.retried, c.skipped_busy
        )
    }

    /// Failed calls in all.
    pub fn failed(&self) -> u64 {
        self.lock().failed_by_code.values().sum()
    }

    /// The fields of the final report.
    pub fn report(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut c = self.lock();
        c.ok_latency_us.sort_unstable();
        let ms = |q: f64| quantile(&c.ok_latency_us, q) as f64 / 1000.0;
        let failed: u64 = c.failed_by_code.values().sum();
        let by_op: serde_json::Map<_, _> = c
            .by_op
            .iter()
            .map(|(op, [sent, ok, failed])| {
                (
                    (*op).to_owned(),
                    serde_json::json!({"sent": sent, "ok": ok, "failed": failed}),
                )
            })
            .collect();
        let serde_json::Value::Object(fields) = serde_json::json!({
            "sent": c.sent,
            "ok": c.ok,
            "failed": failed,
            "failed_by_code": c.failed_by_code,
            "retried_unavailable": c.retried,
            "retries": c.retries_by_code.values().sum::<u64>(),
            "retries_by_code": c.retries_by_code,
            "skipped_busy": c.skipped_busy,
            "by_op": by_op,
            "p50_ms": ms(0.50),
            "p99_ms": ms(0.99),
            "max_ms": ms(1.0),
        }) else {
            unreachable!("an object literal")
        };
        fields
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The `q` quantile (0..=1, nearest rank) of sorted `values`; 0 when there are none.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(quantile(&values, 0.5), 50);
        assert_eq!(quantile(&values, 0.99), 99);
        assert_eq!(quantile(&values, 1.0), 100);
        assert_eq!(quantile(&[7], 0.5), 7);
        assert_eq!(quantile(&[], 0.5), 0);
    }

    #[test]
    fn the_report_counts_per_code_and_per_operation() {
        let t = Tally::default();
        let (unavailable, unknown) = ("UNAVAILABLE".to_owned(), "UNKNOWN".to_owned());
        t.call("a", &[], Duration::from_millis(2), None);
        t.call(
            "a",
            &[unknown, unavailable.clone()],
            Duration::from_millis(4),
            None,
        );
        let eight = vec![unavailable.clone(); 8];
        t.call("b", &eight, Duration::from_millis(9), Some(unavailable));
        t.skipped_busy();
        let r = serde_json::Value::Object(t.report());
        assert_eq!(r["sent"], 3);
        assert_eq!(r["ok"], 2);
        assert_eq!(r["failed_by_code"]["UNAVAILABLE"], 1);
        assert_eq!(r["retried_unavailable"], 2);
        assert_eq!(r["retries"], 10);
        assert_eq!(r["retries_by_code"]["UNAVAILABLE"], 9);
        assert_eq!(r["retries_by_code"]["UNKNOWN"], 1);
        assert_eq!(r["skipped_busy"], 1);
        assert_eq!(r["by_op"]["a"]["ok"], 2);
        assert_eq!(r["p99_ms"], 4.0);
    }
}
