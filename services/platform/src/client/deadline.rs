//! The deadline of the call being served, so that calls made while serving it end no later:
//! the server's [`crate::deadline`] layer runs each call inside [`serving_until`], and
//! [`outgoing`] caps an outgoing call's own time by what is left. Outside a served call (a
//! background job) only the outgoing call's own time counts.
use std::future::Future;
use std::time::Duration;
use tokio::task::futures::TaskLocalFuture;
use tokio::time::Instant;

tokio::task_local! {
    static SERVING_UNTIL: Instant;
}

/// Runs `call` (the future of a served call) with `until` as its deadline.
pub fn serving_until<F: Future>(until: Instant, call: F) -> TaskLocalFuture<Instant, F> {
    SERVING_UNTIL.scope(until, call)
}

/// Time left of the call being served; `None` outside one.
pub fn remaining() -> Option<Duration> {
    SERVING_UNTIL
        .try_with(|until| until.saturating_duration_since(Instant::now()))
        .ok()
}

/// When an outgoing call that may take `own` must end.
pub fn outgoing(own: Duration) -> Instant {
    let own = Instant::now() + own;
    SERVING_UNTIL
        .try_with(|until| own.min(*until))
        .unwrap_or(own)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;
    use tower::{Layer as _, Service as _, ServiceExt as _};

    #[tokio::test]
    async fn served_calls_know_their_deadline() {
        assert_eq!(remaining(), None);
        let own = Duration::from_secs(10);
        let now = Instant::now();
        assert!(outgoing(own) >= now + own);

        let handler = tower::service_fn(|_req: Request<()>| async move {
            let outgoing_ends = outgoing(Duration::from_secs(10));
            Ok::<_, tonic::Status>((remaining(), outgoing_ends))
        });
        let limit = Duration::from_millis(300);
        let mut svc = crate::deadline::DeadlineLayer::new(limit).layer(handler);
        let started = Instant::now();
        let (left, outgoing_ends) = svc
            .ready()
            .await
            .expect("ready")
            .call(Request::new(()))
            .await
            .expect("answer");
        let left = left.expect("a served call has a deadline");
        assert!(left <= limit && left > Duration::ZERO, "{left:?}");
        assert!(
            outgoing_ends <= started + limit + Duration::from_millis(5),
            "the served call's deadline caps an outgoing call's own 10 s"
        );
    }
}
