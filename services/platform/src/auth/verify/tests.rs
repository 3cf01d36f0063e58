use super::*;
use crate::auth::mint;
use crate::auth::settings::{AuthMode, ClientAuthSettings, Grant, RateLimitSettings};
use crate::config::Secret;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{EncodingKey, Header};

const SECRET: &str = "a-development-secret-of-32-bytes!!";
const ISS: &str = "https://issuer.test";
const AUD: &str = "crm";
const HOUR: Duration = Duration::from_secs(3600);

fn settings(issuers: Vec<IssuerSettings>) -> AuthSettings {
    AuthSettings {
        mode: AuthMode::Jwt,
        reflection: true,
        leeway_secs: 30,
        token_cache_capacity: 100,
        max_token_bytes: 8192,
        grants: vec![Grant {
            issuer: ISS.into(),
            subject: "system:serviceaccount:crm:tickets".into(),
            scopes: vec!["customers.read".into()],
        }],
        issuers,
        rate_limits: RateLimitSettings {
            read_per_sec: 0,
            write_per_sec: 0,
            admin_per_sec: 0,
            burst_secs: 1,
        },
        client: ClientAuthSettings::default(),
    }
}

fn hs_issuer() -> IssuerSettings {
    IssuerSettings::hs256(ISS, AUD, SECRET)
}

fn token(claims: &serde_json::Value) -> String {
    mint::hs256(SECRET, claims).expect("signs")
}

fn with(mut claims: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    claims[key] = value;
    claims
}

#[test]
fn a_valid_token_gives_its_scopes_and_the_granted_ones() {
    let v = Verifier::new(&settings(vec![hs_issuer()])).expect("verifier");
    let t = token(&mint::claims(
        ISS,
        AUD,
        "system:serviceaccount:crm:tickets",
        &["loyalty.read"],
        HOUR,
    ));
    let p = v.verify(&t).expect("valid");
    assert_eq!(p.subject, "system:serviceaccount:crm:tickets");
    assert!(p.has("loyalty.read") && p.has("customers.read"), "{p:?}");
    assert!(!p.has("customers.write"));
    assert!(
        Arc::ptr_eq(&p, &v.verify(&t).expect("cached")),
        "second call is a cache hit"
    );
}

#[test]
fn every_kind_of_bad_token_is_refused_with_its_problem() {
    let v = Verifier::new(&settings(vec![hs_issuer()])).expect("verifier");
    let good = mint::claims(ISS, AUD, "svc", &[], HOUR);
    let now = jsonwebtoken::get_current_timestamp();
    let cases = [
        (
            "expired",
            token(&with(good.clone(), "exp", (now - 120).into())),
            Problem::Expired,
        ),
        (
            "not yet valid",
            token(&with(good.clone(), "nbf", (now + 600).into())),
            Problem::NotYetValid,
        ),
        (
            "wrong audience",
            token(&with(good.clone(), "aud", "other".into())),
            Problem::WrongAudience,
        ),
        (
            "wrong issuer",
            token(&with(good.clone(), "iss", "https://evil".into())),
            Problem::WrongIssuer,
        ),
        (
            "no issuer",
            token(&with(good.clone(), "iss", serde_json::Value::Null)),
            Problem::WrongIssuer,
        ),
        (
            "bad signature",
            mint::hs256("another-secret-that-is-32-bytes-long", &good).expect("signs"),
            Problem::BadSignature,
        ),
        ("alg none", unsigned(&good), Problem::AlgorithmNotAllowed),
        ("garbage", "not.a.token".to_owned(), Problem::Malformed),
        ("two parts", "abc.def".to_owned(), Problem::Malformed),
        (
            "no subject",
            token(&with(good.clone(), "sub", "".into())),
            Problem::Malformed,
        ),
        ("empty", String::new(), Problem::Missing),
        ("huge", "a".repeat(10_000), Problem::Malformed),
    ];
    for (what, t, problem) in cases {
        assert_eq!(v.verify(&t).err(), Some(problem), "{what}");
    }
}

#[test]
fn leeway_allows_small_clock_skew_only() {
    let v = Verifier::new(&settings(vec![hs_issuer()])).expect("verifier");
    let now = jsonwebtoken::get_current_timestamp();
    let good = mint::claims(ISS, AUD, "svc", &[], HOUR);
    assert!(
        v.verify(&token(&with(good.clone(), "exp", (now - 10).into())))
            .is_ok()
    );
    assert!(
        v.verify(&token(&with(good, "nbf", (now + 10).into())))
            .is_ok()
    );
}

/// `{"alg":"none"}` with the claims and an empty signature.
fn unsigned(claims: &serde_json::Value) -> String {
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    )
}

/// A JWKS file with the test's RSA and EC public keys.
fn jwks_file() -> tempfile_path::Path {
    let rsa = EncodingKey::from_rsa_pem(include_bytes!("../testdata/rs256.pem")).expect("rsa");
    let ec = EncodingKey::from_ec_pem(include_bytes!("../testdata/es256.pem")).expect("ec");
    let mut r = Jwk::from_encoding_key(&rsa, Algorithm::RS256).expect("rsa jwk");
    r.common.key_id = Some("r1".into());
    let mut e = Jwk::from_encoding_key(&ec, Algorithm::ES256).expect("ec jwk");
    e.common.key_id = Some("e1".into());
    let set = JwkSet { keys: vec![r, e] };
    tempfile_path::Path::with(&serde_json::to_vec(&set).expect("json"))
}

/// A throwaway file path (removed on drop).
mod tempfile_path {
    pub struct Path(pub std::path::PathBuf);
    impl Path {
        pub fn with(bytes: &[u8]) -> Self {
            let p = std::env::temp_dir().join(format!("crm-jwks-{}.json", uuid::Uuid::new_v4()));
            std::fs::write(&p, bytes).expect("write");
            Self(p)
        }
    }
    impl Drop for Path {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn jwks_issuer(file: &tempfile_path::Path, algorithms: &[&str]) -> IssuerSettings {
    IssuerSettings {
        algorithms: algorithms.iter().map(|a| (*a).to_owned()).collect(),
        jwks_file: file.0.display().to_string(),
        hs256_secret: Secret::default(),
        ..hs_issuer()
    }
}

fn signed(alg: Algorithm, kid: &str, pem: &[u8], claims: &serde_json::Value) -> String {
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
        _ => EncodingKey::from_ec_pem(pem),
    }
    .expect("key");
    let mut h = Header::new(alg);
    h.kid = Some(kid.into());
    mint::sign(&h, &key, claims).expect("signs")
}

#[tokio::test]
async fn rs256_and_es256_tokens_verify_against_the_jwks() {
    let file = jwks_file();
    let v =
        Verifier::new(&settings(vec![jwks_issuer(&file, &["RS256", "ES256"])])).expect("verifier");
    let claims = mint::claims(ISS, AUD, "svc", &["x.read"], HOUR);
    let rs = signed(
        Algorithm::RS256,
        "r1",
        include_bytes!("../testdata/rs256.pem"),
        &claims,
    );
    assert_eq!(
        v.verify(&rs).err(),
        Some(Problem::KeysUnavailable),
        "not loaded yet"
    );
    for k in v.key_refreshers() {
        assert_eq!(k.load().await.expect("loads"), 2);
    }
    assert!(v.verify(&rs).expect("rs256").has("x.read"));
    let es = signed(
        Algorithm::ES256,
        "e1",
        include_bytes!("../testdata/es256.pem"),
        &claims,
    );
    assert!(v.verify(&es).is_ok(), "es256");
    let forged = signed(
        Algorithm::RS256,
        "r1",
        include_bytes!("../testdata/other-rs256.pem"),
        &claims,
    );
    assert_eq!(v.verify(&forged).err(), Some(Problem::BadSignature));
    let unknown = signed(
        Algorithm::RS256,
        "r9",
        include_bytes!("../testdata/rs256.pem"),
        &claims,
    );
    assert_eq!(v.verify(&unknown).err(), Some(Problem::UnknownKey));
}

#[tokio::test]
async fn only_allowed_algorithms_verify() {
    let file = jwks_file();
    let v = Verifier::new(&settings(vec![jwks_issuer(&file, &["ES256"])])).expect("verifier");
    for k in v.key_refreshers() {
        k.load().await.expect("loads");
    }
    let claims = mint::claims(ISS, AUD, "svc", &[], HOUR);
    let rs = signed(
        Algorithm::RS256,
        "r1",
        include_bytes!("../testdata/rs256.pem"),
        &claims,
    );
    assert_eq!(v.verify(&rs).err(), Some(Problem::AlgorithmNotAllowed));
    // Key confusion: an HS256 token "signed" with the public key as the secret.
    let public = include_str!("../testdata/rs256.pub.pem");
    let confused = mint::hs256(public, &claims).expect("signs");
    assert_eq!(
        v.verify(&confused).err(),
        Some(Problem::AlgorithmNotAllowed)
    );
}

#[tokio::test]
async fn a_jwks_url_is_fetched_over_http() {
    let file = jwks_file();
    let body = std::fs::read(&file.0).expect("jwks");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let seen_by_server = seen.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (mut s, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.expect("read");
        *seen_by_server.lock().expect("lock") = String::from_utf8_lossy(&buf[..n]).into_owned();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.expect("write");
        s.write_all(&body).await.expect("write");
    });
    let bearer = tempfile_path::Path::with(b"sa-token\n");
    let issuer = IssuerSettings {
        algorithms: vec!["ES256".into()],
        jwks_url: format!("http://127.0.0.1:{port}/openid/v1/jwks"),
        jwks_bearer_token_file: bearer.0.display().to_string(),
        hs256_secret: Secret::default(),
        ..hs_issuer()
    };
    let keys = IssuerKeys::new(issuer);
    assert_eq!(keys.load().await.expect("fetched"), 2);
    let request = seen.lock().expect("lock").clone();
    assert!(
        request.starts_with("GET /openid/v1/jwks HTTP/1.1"),
        "{request}"
    );
    assert!(
        request
            .to_ascii_lowercase()
            .contains("authorization: bearer sa-token\r\n"),
        "{request}"
    );
}

#[test]
fn grants_belong_to_their_issuer() {
    let other = IssuerSettings {
        issuer: "https://idp.test".into(),
        ..hs_issuer()
    };
    let v = Verifier::new(&settings(vec![hs_issuer(), other])).expect("verifier");
    let sub = "system:serviceaccount:crm:tickets";
    let t = token(&mint::claims("https://idp.test", AUD, sub, &[], HOUR));
    let p = v.verify(&t).expect("valid token of the other issuer");
    assert!(
        !p.has("customers.read"),
        "the same subject from another issuer gets no grant"
    );
    assert!(
        !v.certificate_principal(sub).has("customers.read"),
        "nor a certificate"
    );
    let own = token(&mint::claims(ISS, AUD, sub, &[], HOUR));
    assert!(
        v.verify(&own).expect("valid").has("customers.read"),
        "its own issuer's token does"
    );
}

#[test]
fn the_token_cache_stays_within_its_capacity() {
    let mut s = settings(vec![hs_issuer()]);
    s.token_cache_capacity = 3;
    let v = Verifier::new(&s).expect("verifier");
    for i in 0..10 {
        let t = token(&mint::claims(ISS, AUD, &format!("svc{i}"), &[], HOUR));
        assert!(v.verify(&t).is_ok());
        assert!(v.cache.map.read().expect("lock").len() <= 3);
    }
}
