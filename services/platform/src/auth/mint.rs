//! Signing tokens: development tokens from an HS256 issuer's secret (`token` subcommand, test
//! harnesses). Production tokens come from a real issuer (Kubernetes, an IdP), never from here.
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::time::Duration;

/// The standard claims of a token for `subject` with `scopes`, valid from now for `ttl`.
pub fn claims(
    issuer: &str,
    audience: &str,
    subject: &str,
    scopes: &[&str],
    ttl: Duration,
) -> serde_json::Value {
    let now = jsonwebtoken::get_current_timestamp();
    serde_json::json!({
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "scope": scopes.join(" "),
        "iat": now,
        "nbf": now,
        "exp": now + ttl.as_secs(),
    })
}

/// `claims` signed with HS256 under `secret`.
pub fn hs256(secret: &str, claims: &serde_json::Value) -> anyhow::Result<String> {
    sign(
        &Header::new(Algorithm::HS256),
        &EncodingKey::from_secret(secret.as_bytes())?,
        claims,
    )
}

pub fn sign(
    header: &Header,
    key: &EncodingKey,
    claims: &serde_json::Value,
) -> anyhow::Result<String> {
    Ok(jsonwebtoken::encode(header, claims, key)?)
}
