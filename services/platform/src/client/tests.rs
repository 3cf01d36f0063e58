//! Retry and deadlines against a real gRPC server (health's Check) that answers from a script.
use super::deadline::serving_until;
use super::*;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use tonic::Code;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

#[derive(Clone, Copy)]
enum Answer {
    Fail(Code),
    /// Never answers: the attempt runs into its deadline.
    Stall,
}

#[derive(Default)]
struct Scripted {
    /// Answers in turn; once they are used up, every call succeeds.
    answers: Mutex<VecDeque<Answer>>,
    /// The `grpc-timeout` of every call received, in arrival order.
    timeouts: Mutex<Vec<String>>,
}

/// The served side of a [`Scripted`] (the test keeps the other handle to read it).
struct Callee(Arc<Scripted>);

#[tonic::async_trait]
impl Health for Callee {
    async fn check(
        &self,
        req: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, Status> {
        let timeout = req
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.0.timeouts.lock().expect("lock").push(timeout);
        let next = self.0.answers.lock().expect("lock").pop_front();
        match next {
            None => Ok(tonic::Response::new(HealthCheckResponse { status: 1 })),
            Some(Answer::Fail(code)) => Err(Status::new(code, "scripted")),
            Some(Answer::Stall) => std::future::pending().await,
        }
    }

    type WatchStream = futures::stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("not scripted"))
    }
}

/// A server on a free port answering `answers` in turn, and settings to call it with.
async fn scripted(answers: &[Answer]) -> (Arc<Scripted>, ClientSettings) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let script = Arc::new(Scripted::default());
    script.answers.lock().expect("lock").extend(answers);
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let server = tonic::transport::Server::builder()
        .add_service(HealthServer::new(Callee(script.clone())))
        .serve_with_incoming(incoming);
    tokio::spawn(server);
    let mut s = ClientSettings::new(format!("http://127.0.0.1:{port}"), Duration::from_secs(5));
    s.retry.backoff_base = Duration::from_millis(10);
    (script, s)
}

/// One Check through a [`Remote`]; returns the outcome and how many calls the server saw.
async fn check(
    script: &Scripted,
    s: ClientSettings,
    call: Idempotence,
) -> (Result<i32, Code>, usize) {
    let remote = Remote::new(s, HealthClient::new).expect("remote");
    let res = remote
        .call(
            call,
            HealthCheckRequest::default(),
            |mut c, req| async move { c.check(req).await },
        )
        .await;
    let calls = script.timeouts.lock().expect("lock").len();
    (res.map(|r| r.status).map_err(|e| e.code()), calls)
}

fn fails(code: Code, times: usize) -> Vec<Answer> {
    vec![Answer::Fail(code); times]
}

#[tokio::test]
async fn unavailable_is_retried_until_an_answer() {
    let (script, s) = scripted(&fails(Code::Unavailable, 2)).await;
    assert_eq!(check(&script, s, Idempotence::ReadOnly).await, (Ok(1), 3));
}

#[tokio::test]
async fn retries_stop_after_the_attempts() {
    let (script, mut s) = scripted(&fails(Code::Unavailable, 5)).await;
    s.retry.attempts = 3;
    assert_eq!(
        check(&script, s, Idempotence::Idempotent).await,
        (Err(Code::Unavailable), 3)
    );
}

#[tokio::test]
async fn calls_that_may_apply_twice_are_sent_once() {
    let (script, s) = scripted(&fails(Code::Unavailable, 1)).await;
    assert_eq!(
        check(&script, s, Idempotence::NotIdempotent).await,
        (Err(Code::Unavailable), 1)
    );
}

#[tokio::test]
async fn definite_answers_are_not_retried() {
    for code in [
        Code::NotFound,
        Code::InvalidArgument,
        Code::FailedPrecondition,
        Code::Internal,
        Code::ResourceExhausted,
    ] {
        let (script, s) = scripted(&fails(code, 1)).await;
        assert_eq!(
            check(&script, s, Idempotence::Idempotent).await,
            (Err(code), 1),
            "{code:?}"
        );
    }
    let (script, mut s) = scripted(&fails(Code::ResourceExhausted, 1)).await;
    s.retry.retry_resource_exhausted = true;
    assert_eq!(check(&script, s, Idempotence::Idempotent).await, (Ok(1), 2));
}

#[tokio::test]
async fn a_stalled_attempt_is_retried_while_time_is_left() {
    let (script, mut s) = scripted(&[Answer::Stall]).await;
    s.call_timeout = Duration::from_millis(200);
    s.total_timeout = Duration::from_secs(3);
    assert_eq!(check(&script, s, Idempotence::ReadOnly).await, (Ok(1), 2));
}

#[tokio::test]
async fn the_total_time_bounds_every_attempt_and_pause() {
    let (script, mut s) = scripted(&[Answer::Stall; 5]).await;
    s.retry.attempts = 5;
    s.call_timeout = Duration::from_millis(300);
    s.total_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let (res, calls) = check(&script, s, Idempotence::ReadOnly).await;
    let took = started.elapsed();
    assert_eq!(res, Err(Code::DeadlineExceeded));
    assert_eq!(calls, 2, "the second attempt gets the 200 ms left");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(900),
        "{took:?}"
    );
    let timeouts = script.timeouts.lock().expect("lock").clone();
    assert_eq!(timeouts[0], "300000u", "the first attempt its call timeout");
}

/// The `grpc-timeout` header in microseconds (tonic sends `u` for these durations).
fn micros(header: &str) -> u64 {
    header
        .strip_suffix('u')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{header:?} is not in microseconds"))
}

#[tokio::test]
async fn the_callers_deadline_caps_the_callees() {
    let (script, s) = scripted(&[]).await;
    let served_until = Instant::now() + Duration::from_millis(300);
    let res = serving_until(
        served_until,
        check(&script, s.clone(), Idempotence::ReadOnly),
    )
    .await;
    assert_eq!(res, (Ok(1), 1));
    let sent = micros(&script.timeouts.lock().expect("lock")[0]);
    assert!(sent > 0 && sent <= 300_000, "{sent} µs");

    // Without a served call, the callee gets the whole call timeout.
    let (script, s) = scripted(&[]).await;
    assert_eq!(check(&script, s, Idempotence::ReadOnly).await, (Ok(1), 1));
    let sent = micros(&script.timeouts.lock().expect("lock")[0]);
    assert!(sent > 4_900_000 && sent <= 5_000_000, "{sent} µs");
}

#[tokio::test]
async fn no_call_is_made_past_the_callers_deadline() {
    let (script, s) = scripted(&[]).await;
    let res = serving_until(Instant::now(), check(&script, s, Idempotence::ReadOnly)).await;
    assert_eq!(res, (Err(Code::DeadlineExceeded), 0));
}

#[test]
fn which_answers_are_retried() {
    use Idempotence::*;
    let mut policy = RetryPolicy::default();
    for (call, code, retried) in [
        (ReadOnly, Code::Unavailable, true),
        (ReadOnly, Code::DeadlineExceeded, true),
        (Idempotent, Code::Unavailable, true),
        (Idempotent, Code::DeadlineExceeded, true),
        (NotIdempotent, Code::Unavailable, false),
        (NotIdempotent, Code::DeadlineExceeded, false),
        (ReadOnly, Code::ResourceExhausted, false),
        (Idempotent, Code::Aborted, false),
        (ReadOnly, Code::NotFound, false),
        (Idempotent, Code::Unknown, false),
    ] {
        assert_eq!(policy.retries(call, code), retried, "{call:?} {code:?}");
    }
    policy.retry_resource_exhausted = true;
    assert!(policy.retries(Idempotent, Code::ResourceExhausted));
    assert!(!policy.retries(NotIdempotent, Code::ResourceExhausted));
}
