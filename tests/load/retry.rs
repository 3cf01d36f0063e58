//! One logical call: attempts of the same request (so the same `request_id`: the services
//! apply a write once however often it arrives) while the answer says the service or the
//! connection is away, with exponential backoff and jitter, a bounded number of times.
use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;
use tonic::{Code, Status};

#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts after the first.
    pub retries: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

/// What became of a logical call.
pub struct Called<T> {
    pub result: Result<T, Status>,
    /// What each attempt that was retried failed with (see [`failure_key`]); empty when the
    /// first attempt was final.
    pub retried_on: Vec<String>,
}

impl Retry {
    /// Calls `attempt` until it answers with anything but UNAVAILABLE or a connection error,
    /// or the retries are spent.
    pub async fn call<T, F, Fut>(&self, mut attempt: F) -> Called<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let mut retried_on = Vec::new();
        loop {
            let retries = retried_on.len() as u32;
            match attempt().await {
                Ok(answer) => {
                    return Called {
                        result: Ok(answer.into_inner()),
                        retried_on,
                    };
                }
                Err(status) if retries < self.retries && retryable(&status) => {
                    retried_on.push(failure_key(&status));
                    tokio::time::sleep(self.backoff(retries)).await;
                }
                Err(status) => {
                    report_final(&status);
                    return Called {
                        result: Err(status),
                        retried_on,
                    };
                }
            }
        }
    }

    /// `first_backoff` doubled per retry up to `max_backoff`, then between half and all of
    /// it (callers cut off together do not come back together).
    fn backoff(&self, retry: u32) -> Duration {
        let full = self
            .first_backoff
            .saturating_mul(1 << retry.min(16))
            .min(self.max_backoff);
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        full / 2 + full.mul_f64((random % 1000) as f64 / 2000.0)
    }
}

/// Final failures whose text goes to stderr (the first ones: enough to tell what they were).
const REPORTED_FAILURES: usize = 20;

/// Prints a call's final failure, code and message, for the first [`REPORTED_FAILURES`].
fn report_final(status: &Status) {
    static REPORTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    if REPORTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < REPORTED_FAILURES {
        eprintln!(
            "loadgen: call failed: {} {:?} (source: {:?})",
            failure_key(status),
            status.message(),
            std::error::Error::source(status)
        );
    }
}

/// UNAVAILABLE (a server draining or not ready, a database away, no connection to be made),
/// or the connection broken under the call: tonic's client gives an error of its transport
/// (one it could not map to a status, with that error as the source), an HTTP/2 reset, or
/// CANCELLED that is not its own timeout (this client never cancels a call, so the stream was
/// cancelled under it; seen during rollouts, its origin not yet pinned down: the retries say
/// how often, under `retries_by_code`). A timeout is not retried: it is counted, as a failure
/// the caller saw.
pub fn retryable(status: &Status) -> bool {
    status.code() == Code::Unavailable
        || (status.code() == Code::Unknown && std::error::Error::source(status).is_some())
        || status.message().starts_with("h2 protocol error")
        || (status.code() == Code::Cancelled && failure_key(status) != "TIMEOUT")
}

/// The name a failure is counted under: the gRPC code (`UNAVAILABLE`, `NOT_FOUND`, ...),
/// or `TIMEOUT` for the client's own per-call bound.
pub fn failure_key(status: &Status) -> String {
    if status.code() == Code::Cancelled && status.message().contains("Timeout expired") {
        return "TIMEOUT".to_owned();
    }
    // Debug gives the variant (`DeadlineExceeded`); the protocol's name is DEADLINE_EXCEEDED.
    let mut key = String::new();
    for (i, c) in format!("{:?}", status.code()).chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            key.push('_');
        }
        key.push(c.to_ascii_uppercase());
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_under_the_protocols_names() {
        assert_eq!(failure_key(&Status::unavailable("x")), "UNAVAILABLE");
        assert_eq!(
            failure_key(&Status::deadline_exceeded("x")),
            "DEADLINE_EXCEEDED"
        );
        assert_eq!(
            failure_key(&Status::failed_precondition("x")),
            "FAILED_PRECONDITION"
        );
        assert_eq!(
            failure_key(&Status::cancelled("Timeout expired")),
            "TIMEOUT"
        );
        assert_eq!(failure_key(&Status::cancelled("by the peer")), "CANCELLED");
    }

    #[test]
    fn only_an_absent_service_or_a_broken_connection_is_retried() {
        assert!(retryable(&Status::unavailable("draining")));
        assert!(retryable(&Status::from_error(Box::new(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset)
        ))));
        assert!(retryable(&Status::internal("h2 protocol error: reset")));
        // An answer of the server, and the client's own timeout, are final.
        assert!(!retryable(&Status::unknown("the server said so")));
        assert!(!retryable(&Status::cancelled("Timeout expired")));
        assert!(retryable(&Status::cancelled("stream cancelled")));
        assert!(!retryable(&Status::not_found("x")));
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap_with_jitter_below_it() {
        let r = Retry {
            retries: 8,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        };
        for (retry, full_ms) in [(0, 100), (1, 200), (3, 800), (5, 2000), (30, 2000)] {
            let b = r.backoff(retry);
            let full = Duration::from_millis(full_ms);
            assert!(b >= full / 2 && b <= full, "retry {retry}: {b:?}");
        }
    }
}
