//! Every method of every service in the descriptor set, walked with authentication on (the
//! suite in-process, the test issuer trusted):
//!
//! - every method has exactly one rule in its service's `POLICY`, and every rule a method;
//! - no token: UNAUTHENTICATED (reason UNAUTHENTICATED, problem `missing`);
//! - expired, wrong audience, wrong issuer, bad signature, `alg: none`: UNAUTHENTICATED with
//!   the problem named;
//! - a valid token with every scope of the suite but the method's: PERMISSION_DENIED,
//!   MISSING_SCOPE, metadata `scope` = the rule's scope;
//! - a token with only the method's scope: not refused by authentication or authorization
//!   (the empty request may still be invalid).
//!
//! Methods come from `crm_proto::FILE_DESCRIPTOR_SET`, so a new RPC is walked (and fails here
//! without a rule) the day it is added. Requests are empty messages in a raw bytes codec;
//! streaming methods send one and read the first answer.
//!
//! `cargo test -p crm-suite --test auth_walk -- --nocapture`
mod common;

use base64::Engine as _;
use crm_platform::testing::{Backend, RawCodec, auth};
use futures::StreamExt as _;
use prost_reflect::{DescriptorPool, MethodDescriptor};
use std::collections::BTreeSet;
use std::time::Duration;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

/// Long enough for any empty request; a call that takes longer still was not refused.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

fn pool() -> DescriptorPool {
    DescriptorPool::decode(crm_proto::FILE_DESCRIPTOR_SET).expect("descriptor set decodes")
}

/// Calls `method` with an empty message (one for client streams) and `authorization`, and
/// returns the call's status (`Ok` once the first answer arrives).
async fn call(
    channel: &Channel,
    method: &MethodDescriptor,
    authorization: Option<&str>,
) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("channel not ready: {e}")))?;
    let path: http::uri::PathAndQuery =
        format!("/{}/{}", method.parent_service().full_name(), method.name())
            .parse()
            .expect("method path");
    let one = || futures::stream::iter([Vec::<u8>::new()]);
    let first = |items: Option<Result<Vec<u8>, tonic::Status>>| items.transpose().map(|_| ());
    match (method.is_client_streaming(), method.is_server_streaming()) {
        (false, false) => grpc
            .unary(request(Vec::new(), authorization), path, RawCodec)
            .await
            .map(|_| ()),
        (true, false) => grpc
            .client_streaming(request(one(), authorization), path, RawCodec)
            .await
            .map(|_| ()),
        (false, true) => {
            let mut items = grpc
                .server_streaming(request(Vec::new(), authorization), path, RawCodec)
                .await?
                .into_inner();
            first(items.next().await)
        }
        (true, true) => {
            let mut items = grpc
                .streaming(request(one(), authorization), path, RawCodec)
                .await?
                .into_inner();
            first(items.next().await)
        }
    }
}

/// `body` with the call's deadline and `authorization`, if any.
fn request<T>(body: T, authorization: Option<&str>) -> tonic::Request<T> {
    let mut req = tonic::Request::new(body);
    req.set_timeout(CALL_TIMEOUT);
    if let Some(value) = authorization {
        req.metadata_mut()
            .insert("authorization", value.parse().expect("ascii header"));
    }
    req
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The claims of a good token of the test issuer with `scopes`, changed by `change`.
fn claims_with(
    scopes: &[&str],
    change: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> serde_json::Value {
    let mut claims = crm_platform::auth::mint::claims(
        auth::ISSUER,
        auth::AUDIENCE,
        auth::SUBJECT,
        scopes,
        Duration::from_secs(3600),
    );
    change(claims.as_object_mut().expect("claims are an object"));
    claims
}

/// Tokens that must be refused whatever their scopes, with the problem each is refused for.
fn bad_tokens(scopes: &[&str]) -> Vec<(&'static str, String)> {
    let now = unix_now();
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let good = claims_with(scopes, |_| {});
    vec![
        (
            "expired",
            auth::token_with(&claims_with(scopes, |c| {
                c.insert("iat".into(), (now - 7200).into());
                c.insert("nbf".into(), (now - 7200).into());
                c.insert("exp".into(), (now - 3600).into());
            })),
        ),
        (
            "wrong_audience",
            auth::token_with(&claims_with(scopes, |c| {
                c.insert("aud".into(), "another-audience".into());
            })),
        ),
        (
            "wrong_issuer",
            auth::token_with(&claims_with(scopes, |c| {
                c.insert("iss".into(), "https://someone-else.example".into());
            })),
        ),
        (
            "bad_signature",
            crm_platform::auth::mint::hs256("a-different-secret-of-at-least-32-bytes", &good)
                .expect("signs"),
        ),
        (
            "algorithm_not_allowed",
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"JWT"}"#),
                b64(good.to_string().as_bytes())
            ),
        ),
    ]
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn metadata(status: &tonic::Status, key: &str) -> Option<String> {
    status
        .get_details_error_info()
        .and_then(|info| info.metadata.get(key).cloned())
}

#[track_caller]
fn assert_refused(
    got: Result<(), tonic::Status>,
    code: Code,
    reason: &str,
    meta: (&str, &str),
    what: &str,
) {
    let status = got.expect_err(what);
    assert_eq!(status.code(), code, "{what}: {status:?}");
    assert_eq!(
        crm_platform::grpc::reason_of(&status).as_deref(),
        Some(reason),
        "{what}: {status:?}"
    );
    assert_eq!(
        metadata(&status, meta.0).as_deref(),
        Some(meta.1),
        "{what}: {status:?}"
    );
}

/// Each served service's methods as its descriptor lists them and as its POLICY does.
#[test]
fn every_method_of_every_service_has_exactly_one_rule() {
    let services: Vec<_> = pool().services().collect();
    assert!(!services.is_empty(), "no services in the descriptor set");
    for service in services {
        let name = service.full_name();
        let policy = common::policy(name)
            .unwrap_or_else(|| panic!("{name} has no entry in SPAWNERS of tests/common"));
        let methods: BTreeSet<String> = service.methods().map(|m| m.name().to_owned()).collect();
        // Data scopes (e.g. customers.pii.read) rule no method.
        let mut ruled: Vec<&str> = policy
            .iter()
            .filter(|r| r.is_method())
            .map(|r| r.method)
            .collect();
        ruled.sort_unstable();
        let unique: BTreeSet<String> = ruled.iter().map(|m| (*m).to_owned()).collect();
        assert_eq!(ruled.len(), unique.len(), "{name}: a method has two rules");
        let without: Vec<_> = methods.difference(&unique).collect();
        assert!(
            without.is_empty(),
            "{name}: methods without a rule: {without:?}"
        );
        let stale: Vec<_> = unique.difference(&methods).collect();
        assert!(stale.is_empty(), "{name}: rules of no method: {stale:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_refuses_missing_bad_and_unscoped_tokens() {
    let pool = pool();
    let names: Vec<String> = pool.services().map(|s| s.full_name().to_owned()).collect();
    let suite = common::spawn_suite(Backend::Sqlite, &names).await;
    let channel = crm_platform::testing::channel(suite.port).await;
    // Probes need no token.
    crm_platform::cli::healthcheck(&suite.addr, "", Duration::from_secs(2))
        .await
        .expect("health answers without a token");
    let every_scope: BTreeSet<&str> = suite
        .policies
        .values()
        .flat_map(|p| p.iter().map(|r| r.scope))
        .collect();
    let mut walked = 0;
    for service in pool.services() {
        let policy = suite
            .policies
            .get(service.full_name())
            .unwrap_or_else(|| panic!("{} is not served", service.full_name()));
        for method in service.methods() {
            let what = method.full_name().to_owned();
            let rule = policy
                .iter()
                .find(|r| r.method == method.name())
                .unwrap_or_else(|| panic!("{what} has no rule"));

            let none = call(&channel, &method, None).await;
            assert_refused(
                none,
                Code::Unauthenticated,
                "UNAUTHENTICATED",
                ("problem", "missing"),
                &format!("{what} without a token"),
            );

            for (problem, token) in bad_tokens(&[rule.scope]) {
                let got = call(&channel, &method, Some(&bearer(&token))).await;
                assert_refused(
                    got,
                    Code::Unauthenticated,
                    "UNAUTHENTICATED",
                    ("problem", problem),
                    &format!("{what} with a token refused as {problem}"),
                );
            }

            let others: Vec<&str> = every_scope
                .iter()
                .copied()
                .filter(|s| *s != rule.scope)
                .collect();
            let unscoped = call(
                &channel,
                &method,
                Some(&bearer(&auth::token(auth::SUBJECT, &others))),
            )
            .await;
            assert_refused(
                unscoped,
                Code::PermissionDenied,
                "MISSING_SCOPE",
                ("scope", rule.scope),
                &format!("{what} with every scope but {}", rule.scope),
            );

            let scoped = call(
                &channel,
                &method,
                Some(&bearer(&auth::token(auth::SUBJECT, &[rule.scope]))),
            )
            .await;
            if let Err(status) = &scoped {
                assert!(
                    !matches!(
                        status.code(),
                        Code::Unauthenticated | Code::PermissionDenied
                    ),
                    "{what} with only {} was refused: {status:?}",
                    rule.scope
                );
            }
            walked += 1;
        }
    }
    let in_descriptor: usize = pool.services().map(|s| s.methods().len()).sum();
    assert_eq!(walked, in_descriptor);
    eprintln!("walked {walked} methods of {} services", names.len());
}
