//! The server against a small raw-bytes test service: panics, the gate, unserved services,
//! shutdown with a call in flight, jobs stopped.
use super::*;
use crate::gate::DATABASE_UNAVAILABLE;
use crate::testing::{RawCodec, assert_status, channel, raw_call};
use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;
use tonic::Code;

const TEST_SERVICE: &str = "crm.test.v1.TestService";

/// Echoes its body; `panic` panics, `slow` answers after 800 ms.
#[derive(Clone, Default)]
struct TestService {
    slow_started: Arc<tokio::sync::Notify>,
}

impl tonic::server::NamedService for TestService {
    const NAME: &'static str = TEST_SERVICE;
}

struct Handler(TestService);

impl tonic::server::UnaryService<Vec<u8>> for Handler {
    type Response = Vec<u8>;
    type Future =
        Pin<Box<dyn Future<Output = Result<tonic::Response<Vec<u8>>, tonic::Status>> + Send>>;
    fn call(&mut self, req: tonic::Request<Vec<u8>>) -> Self::Future {
        let started = self.0.slow_started.clone();
        Box::pin(async move {
            let body = req.into_inner();
            match body.as_slice() {
                b"panic" => panic!("handler bug"),
                b"slow" => {
                    started.notify_one();
                    tokio::time::sleep(Duration::from_millis(800)).await;
                    Ok(tonic::Response::new(b"done".to_vec()))
                }
                _ => Ok(tonic::Response::new(body)),
            }
        })
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for TestService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;
    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let svc = self.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec);
            Ok(grpc.unary(Handler(svc), req).await)
        })
    }
}

/// Ready while the switch is on.
struct Switch(Arc<AtomicBool>);

impl Readiness for Switch {
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), NotReady>> + Send + '_>> {
        let on = self.0.load(Ordering::SeqCst);
        Box::pin(async move {
            if on {
                Ok(())
            } else {
                Err(NotReady {
                    reason: DATABASE_UNAVAILABLE,
                    detail: "switched off".into(),
                })
            }
        })
    }
}

fn settings() -> ServerSettings {
    ServerSettings {
        host: "127.0.0.1".into(),
        port: 0,
        request_timeout_ms: 30_000,
        concurrency_limit: 64,
        max_message_bytes: 1 << 20,
        shutdown_grace_ms: 3000,
    }
}

struct Running {
    port: u16,
    service: TestService,
    ready: Arc<AtomicBool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(jobs: Jobs) -> Running {
    let service = TestService::default();
    let ready = Arc::new(AtomicBool::new(true));
    let listener = bind(&settings()).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let registered = service.clone();
    let component = Component {
        service_name: TEST_SERVICE,
        register: Box::new(move |routes| {
            routes.add_service(registered);
        }),
        readiness: Arc::new(Switch(ready.clone())),
        jobs,
        policy: &[],
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(
            &settings(),
            &crate::auth::AuthSettings::embedded(),
            &Default::default(),
            listener,
            vec![component],
            async {
                let _ = stopped.await;
            },
        )
        .await
    });
    let addr = format!("127.0.0.1:{port}");
    assert!(crate::testing::wait_serving(&addr, TEST_SERVICE).await);
    Running {
        port,
        service,
        ready,
        stop: Some(stop),
        server,
    }
}

const CALL: &str = "/crm.test.v1.TestService/Call";

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().map(|v| v.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// JSON logs (as in production) with trace ids, captured.
fn json_logs() -> (impl tracing::Subscriber + Send + Sync, Logs) {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let logs = Logs::default();
    let writer = logs.clone();
    let s = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(move || writer.clone()),
        );
    (s, logs)
}

// Current-thread runtime: every server task logs to this test's subscriber.
#[tokio::test]
async fn a_panicking_handler_fails_its_call_only_and_is_logged_once_with_the_trace_id() {
    crate::panic::install_hook();
    let (subscriber, logs) = json_logs();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = start(Jobs::new()).await;
    // One HTTP/2 connection for all three calls.
    let ch = channel(app.port).await;
    let slow = tokio::spawn(raw_call(ch.clone(), CALL, b"slow".to_vec(), &[]));
    app.service.slow_started.notified().await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let err = raw_call(
        ch.clone(),
        CALL,
        b"panic".to_vec(),
        &[("traceparent", &format!("00-{trace}-00f067aa0ba902b7-01"))],
    )
    .await
    .expect_err("the panicking call fails");
    assert_status(&err, Code::Internal, "INTERNAL");
    assert_eq!(err.message(), "internal error", "opaque");
    assert_eq!(
        raw_call(ch.clone(), CALL, b"hi".to_vec(), &[])
            .await
            .expect("next call"),
        b"hi"
    );
    assert_eq!(
        slow.await.expect("join").expect("the call in flight"),
        b"done"
    );
    let panics: Vec<serde_json::Value> = logs
        .lines()
        .iter()
        .filter(|l| l.contains("handler bug"))
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .collect();
    assert_eq!(panics.len(), 1, "one line per panic: {panics:?}");
    let fields = &panics[0]["fields"];
    assert_eq!(fields["message"], "rpc handler panicked");
    assert_eq!(fields["panic.message"], "handler bug");
    assert_eq!(fields["trace_id"], trace);
    assert!(
        fields["panic.location"]
            .as_str()
            .is_some_and(|l| l.contains("tests.rs"))
    );
}

#[test]
fn a_panic_outside_any_handler_is_one_json_log_line() {
    crate::panic::install_hook();
    let (subscriber, logs) = json_logs();
    let out = std::thread::spawn(move || {
        let _guard = tracing::subscriber::set_default(subscriber);
        panic!("stray panic");
    })
    .join();
    assert!(out.is_err());
    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line: serde_json::Value = serde_json::from_str(&lines[0]).expect("JSON");
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["fields"]["panic.message"], "stray panic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_fast_while_not_ready_and_resume_by_themselves() {
    let app = start(Jobs::new()).await;
    let ch = channel(app.port).await;
    app.ready.store(false, Ordering::SeqCst);
    let addr = format!("127.0.0.1:{}", app.port);
    let mut closed = false;
    for _ in 0..40 {
        if crate::cli::healthcheck(&addr, TEST_SERVICE, Duration::from_secs(1))
            .await
            .is_err()
        {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "health turns NOT_SERVING");
    let started = Instant::now();
    let err = raw_call(ch.clone(), CALL, b"x".to_vec(), &[])
        .await
        .expect_err("refused");
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    assert_status(&err, Code::Unavailable, DATABASE_UNAVAILABLE);
    app.ready.store(true, Ordering::SeqCst);
    assert!(crate::testing::wait_serving(&addr, TEST_SERVICE).await);
    assert_eq!(
        raw_call(ch, CALL, b"x".to_vec(), &[])
            .await
            .expect("resumed"),
        b"x"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_not_served_is_unimplemented_by_name() {
    let app = start(Jobs::new()).await;
    let err = raw_call(
        channel(app.port).await,
        "/crm.loyalty.v1.LoyaltyService/GetWallet",
        Vec::new(),
        &[],
    )
    .await
    .expect_err("not served");
    assert_eq!(err.code(), Code::Unimplemented);
    assert!(
        err.message().contains("crm.loyalty.v1.LoyaltyService"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_reports_not_serving_drains_the_call_in_flight_and_stops_jobs() {
    let runs = Arc::new(AtomicU64::new(0));
    let mut jobs = Jobs::new();
    jobs.every(
        Duration::from_millis(20),
        "tick",
        runs.clone(),
        |r| async move {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        },
    );
    let mut app = start(jobs).await;
    let ch = channel(app.port).await;
    // Health watched on the same connection as the call in flight.
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    let mut watch = health
        .watch(tonic_health::pb::HealthCheckRequest {
            service: TEST_SERVICE.into(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("status").expect("one");
    assert_eq!(first.status, ServingStatus::Serving as i32);
    let slow = tokio::spawn(raw_call(ch.clone(), CALL, b"slow".to_vec(), &[]));
    app.service.slow_started.notified().await;
    let _ = app.stop.take().map(|s| s.send(()));
    let next = tokio::time::timeout(Duration::from_millis(500), watch.message())
        .await
        .expect("a status change during the drain")
        .expect("status")
        .expect("one");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    assert!(
        !slow.is_finished(),
        "NOT_SERVING came before the call ended"
    );
    assert_eq!(
        slow.await.expect("join").expect("drained, not dropped"),
        b"done"
    );
    drop(watch);
    drop(health);
    drop(ch);
    tokio::time::timeout(Duration::from_secs(5), app.server)
        .await
        .expect("stops within the grace period")
        .expect("join")
        .expect("clean exit");
    assert_eq!(Arc::strong_count(&runs), 1, "no job left running");
    let after = runs.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(runs.load(Ordering::SeqCst), after);
}

#[tokio::test]
async fn a_signal_listener_that_fails_is_not_a_shutdown() {
    let broken = || async { Err::<(), _>(std::io::Error::other("no signal handling here")) };
    let waited = tokio::time::timeout(
        Duration::from_millis(200),
        first_signal(broken(), std::future::pending()),
    )
    .await;
    assert!(
        waited.is_err(),
        "a failed registration must not stop the server"
    );
    tokio::time::timeout(
        Duration::from_millis(200),
        first_signal(broken(), async { Ok(()) }),
    )
    .await
    .expect("the other signal still stops it");
}

/// The template service of the descriptor set with `policy` as its table.
fn template_component(policy: &'static [crate::auth::Rule]) -> Component {
    Component {
        service_name: "crm.template.v1.TemplateService",
        register: Box::new(|_| {}),
        readiness: Arc::new(Switch(Arc::new(AtomicBool::new(true)))),
        jobs: Jobs::new(),
        policy,
    }
}

#[tokio::test]
async fn a_service_whose_table_misses_a_method_does_not_start() {
    use crate::auth::{read, write};
    const WITHOUT_DELETE: &[crate::auth::Rule] = &[
        write("CreateNote", "template.write"),
        read("GetNote", "template.read"),
        read("ListNotes", "template.read"),
        write("UpdateNote", "template.write"),
    ];
    let mut jwt = crate::auth::AuthSettings::embedded();
    crate::testing::auth::enable_on(&mut jwt);
    for auth in [jwt, crate::auth::AuthSettings::embedded()] {
        let listener = bind(&settings()).await.expect("bind");
        let started = tokio::time::timeout(
            Duration::from_secs(5),
            serve(
                &settings(),
                &auth,
                &Default::default(),
                listener,
                vec![template_component(WITHOUT_DELETE)],
                async {},
            ),
        )
        .await
        .expect("refuses at once");
        let err = started.expect_err("a method without a rule");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("\"DeleteNote\" has no rule"),
            "{:?}: {msg}",
            auth.mode
        );
    }
    // The complete table starts (and stops at once here).
    let mut complete = WITHOUT_DELETE.to_vec();
    complete.push(write("DeleteNote", "template.write"));
    let complete: &'static [crate::auth::Rule] = complete.leak();
    let mut jwt = crate::auth::AuthSettings::embedded();
    crate::testing::auth::enable_on(&mut jwt);
    let listener = bind(&settings()).await.expect("bind");
    serve(
        &settings(),
        &jwt,
        &Default::default(),
        listener,
        vec![template_component(complete)],
        async {},
    )
    .await
    .expect("a complete table serves");
}
