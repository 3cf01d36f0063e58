use super::*;
use crate::auth::policy::{admin, read};
use crate::auth::settings::{ClientAuthSettings, Grant, IssuerSettings, RateLimitSettings};
use crate::auth::{NOT_OWN_RESOURCE, mint};
use std::collections::HashSet;
use tower::{Layer as _, ServiceExt as _};

const SECRET: &str = "layer-test-secret-of-at-least-32-bytes";
const SVC: &str = "crm.x.v1.X";
const GET: &str = "/crm.x.v1.X/GetX";
const PURGE: &str = "/crm.x.v1.X/PurgeX";

fn settings(mode: AuthMode, read_per_sec: u32) -> AuthSettings {
    AuthSettings {
        mode,
        reflection: true,
        leeway_secs: 30,
        token_cache_capacity: 100,
        max_token_bytes: 8192,
        grants: vec![Grant {
            issuer: String::new(),
            subject: "spiffe://crm/ns/crm/sa/tickets".into(),
            scopes: vec!["x.read".into()],
        }],
        issuers: vec![IssuerSettings::hs256("test", "crm", SECRET)],
        rate_limits: RateLimitSettings {
            read_per_sec,
            write_per_sec: 0,
            admin_per_sec: 0,
            burst_secs: 1,
        },
        client: ClientAuthSettings::default(),
    }
}

fn auth(mode: AuthMode, read_per_sec: u32) -> Arc<Auth> {
    let mut p = Policies::default();
    let methods: HashSet<String> = ["GetX".to_owned(), "PurgeX".to_owned()].into();
    p.add(
        SVC,
        &[
            read("GetX", "x.read").self_service(),
            admin("PurgeX", "x.admin"),
        ],
        &methods,
    )
    .expect("complete");
    Arc::new(Auth::new(&settings(mode, read_per_sec), p).expect("auth"))
}

fn token(subject: &str, scopes: &[&str]) -> String {
    mint::hs256(
        SECRET,
        &mint::claims("test", "crm", subject, scopes, Duration::from_secs(600)),
    )
    .expect("signs")
}

/// What a call to `path` with `token` (and maybe a certificate identity) is answered: the
/// gRPC status (0 when the inner service ran) and the subject the handler saw.
async fn call(
    auth: &Arc<Auth>,
    path: &str,
    token: Option<&str>,
    peer: Option<&str>,
) -> (tonic::Status, Option<String>) {
    let inner = tower::service_fn(|req: Request<()>| async move {
        let subject = req
            .extensions()
            .get::<Arc<Principal>>()
            .map(|p| p.subject.clone())
            .unwrap_or_default();
        let mut resp = Response::new(());
        resp.headers_mut().insert(
            "x-subject",
            http::HeaderValue::from_str(&subject).expect("ascii"),
        );
        Ok::<_, std::convert::Infallible>(resp)
    });
    let mut req = Request::builder().uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let mut req = req.body(()).expect("request");
    if let Some(id) = peer {
        req.extensions_mut()
            .insert(crate::tls::PeerInfo::with_identity(id));
    }
    let resp = AuthLayer::new(auth.clone())
        .layer(inner)
        .oneshot(req)
        .await
        .expect("infallible");
    let subject = resp
        .headers()
        .get("x-subject")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let status =
        tonic::Status::from_header_map(resp.headers()).unwrap_or_else(|| tonic::Status::ok(""));
    (status, subject)
}

fn reason(s: &tonic::Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn calls_without_a_valid_identity_are_unauthenticated() {
    let a = auth(AuthMode::Jwt, 0);
    let (s, subject) = call(&a, GET, None, None).await;
    assert_eq!(s.code(), Code::Unauthenticated);
    assert_eq!(reason(&s), UNAUTHENTICATED);
    assert_eq!(subject, None, "the handler never ran");
    let info = s.get_error_details().error_info().cloned().expect("info");
    assert_eq!(
        info.metadata.get("problem").map(String::as_str),
        Some("missing")
    );
    assert_eq!(info.domain, "x.crm");
    let (s, _) = call(&a, GET, Some("garbage"), None).await;
    assert_eq!(s.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn health_and_reflection_need_no_token() {
    let a = auth(AuthMode::Jwt, 0);
    for path in [
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ] {
        let (s, _) = call(&a, path, None, None).await;
        assert_eq!(s.code(), Code::Ok, "{path}");
    }
}

#[tokio::test]
async fn the_method_scope_is_required_and_named_when_missing() {
    let a = auth(AuthMode::Jwt, 0);
    let t = token("svc", &["x.read"]);
    let (s, subject) = call(&a, GET, Some(&t), None).await;
    assert_eq!(s.code(), Code::Ok, "{s:?}");
    assert_eq!(
        subject.as_deref(),
        Some("svc"),
        "the handler sees the caller"
    );
    let (s, _) = call(&a, PURGE, Some(&t), None).await;
    assert_eq!(s.code(), Code::PermissionDenied);
    assert_eq!(reason(&s), MISSING_SCOPE);
    let info = s.get_error_details().error_info().cloned().expect("info");
    assert_eq!(
        info.metadata.get("scope").map(String::as_str),
        Some("x.admin")
    );
}

#[tokio::test]
async fn customer_tokens_reach_self_service_methods_only() {
    let a = auth(AuthMode::Jwt, 0);
    let t = token("customers/c1", &["x.read", "x.admin"]);
    let (s, _) = call(&a, GET, Some(&t), None).await;
    assert_eq!(s.code(), Code::Ok);
    let (s, _) = call(&a, PURGE, Some(&t), None).await;
    assert_eq!(s.code(), Code::PermissionDenied);
    assert_eq!(reason(&s), CUSTOMER_TOKEN_NOT_ALLOWED);
    assert_ne!(reason(&s), NOT_OWN_RESOURCE);
}

#[tokio::test]
async fn a_certificate_identity_gets_its_granted_scopes() {
    let a = auth(AuthMode::Jwt, 0);
    let (s, subject) = call(&a, GET, None, Some("spiffe://crm/ns/crm/sa/tickets")).await;
    assert_eq!(s.code(), Code::Ok, "{s:?}");
    assert_eq!(subject.as_deref(), Some("spiffe://crm/ns/crm/sa/tickets"));
    let (s, _) = call(&a, GET, None, Some("spiffe://crm/ns/other/sa/x")).await;
    assert_eq!(s.code(), Code::PermissionDenied, "no grant, no scope");
}

#[tokio::test]
async fn a_caller_over_its_rate_gets_resource_exhausted_with_retry_info() {
    let a = auth(AuthMode::Jwt, 3);
    let greedy = token("greedy", &["x.read"]);
    let polite = token("polite", &["x.read"]);
    for _ in 0..3 {
        assert_eq!(call(&a, GET, Some(&greedy), None).await.0.code(), Code::Ok);
    }
    let (s, _) = call(&a, GET, Some(&greedy), None).await;
    assert_eq!(s.code(), Code::ResourceExhausted);
    assert_eq!(reason(&s), RATE_LIMITED);
    let retry = s
        .get_error_details()
        .retry_info()
        .cloned()
        .expect("retry info");
    assert!(retry.retry_delay.is_some_and(|d| d > Duration::ZERO));
    assert_eq!(
        call(&a, GET, Some(&polite), None).await.0.code(),
        Code::Ok,
        "others unaffected"
    );
}

#[tokio::test]
async fn with_auth_off_every_call_passes() {
    let a = auth(AuthMode::Off, 0);
    let (s, subject) = call(&a, PURGE, None, None).await;
    assert_eq!(s.code(), Code::Ok);
    assert_eq!(subject.as_deref(), Some("anonymous"));
}
