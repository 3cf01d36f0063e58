//! The `[auth]` section: who may call (issuers, grants), how often (rate limits), and what this
//! service sends on its own calls.
use crate::config::{Secret, Validate};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// No authentication: every caller has every scope (development only, warned at start).
    Off,
    /// Every call but health and reflection needs a verified identity.
    Jwt,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub mode: AuthMode,
    /// Serve reflection (grpcurl list/describe); it never needs a token.
    pub reflection: bool,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Verified tokens remembered by hash until they expire.
    pub token_cache_capacity: u64,
    /// Largest `authorization` value accepted, in bytes.
    pub max_token_bytes: usize,
    #[serde(default)]
    pub grants: Vec<Grant>,
    #[serde(default)]
    pub issuers: Vec<IssuerSettings>,
    pub rate_limits: RateLimitSettings,
    pub client: ClientAuthSettings,
}

/// Scopes a subject has beyond its token's `scope` claim: Kubernetes service-account tokens
/// and mTLS identities carry none of their own.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The issuer whose tokens with this subject get the scopes; empty: the subject is a client
    /// certificate's identity (mTLS). Another issuer's token with the same `sub` gets nothing.
    #[serde(default)]
    pub issuer: String,
    /// A token's `sub` (e.g. `system:serviceaccount:crm:crm-tickets`) or an mTLS SPIFFE id.
    pub subject: String,
    pub scopes: Vec<String>,
}

/// One trusted token issuer and how its signatures are checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerSettings {
    /// The `iss` claim, compared exactly.
    pub issuer: String,
    /// Accepted `aud` values (a token needs one of them).
    pub audiences: Vec<String>,
    /// Allow-list of signature algorithms: RS256, ES256, and HS256 only with `hs256_secret`.
    pub algorithms: Vec<String>,
    /// Public keys: a JWKS document at an http(s) URL, or in a file; both re-read every
    /// `jwks_refresh_secs` (and when a token names a key id not seen yet).
    #[serde(default)]
    pub jwks_url: String,
    #[serde(default)]
    pub jwks_file: String,
    /// PEM CA bundle trusted for an https `jwks_url` (empty: the URL must be http://).
    #[serde(default)]
    pub jwks_ca_file: String,
    /// A bearer token sent to `jwks_url`, re-read on every fetch (the Kubernetes API server
    /// wants one: the pod's own service-account token).
    #[serde(default)]
    pub jwks_bearer_token_file: String,
    #[serde(default = "default_refresh")]
    pub jwks_refresh_secs: u64,
    /// Shared secret for HS256 (development and tests; at least 32 bytes).
    #[serde(default)]
    pub hs256_secret: Secret,
}

fn default_refresh() -> u64 {
    300
}

/// Calls per second per caller identity and method class (0: unlimited).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub read_per_sec: u32,
    pub write_per_sec: u32,
    pub admin_per_sec: u32,
    /// The burst allowed above the rate, in seconds of it.
    pub burst_secs: u32,
}

/// What this service sends as `authorization` on its own outgoing calls.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthSettings {
    /// Re-read when it changes (a projected service-account token rotated by the kubelet).
    pub token_file: String,
    /// A fixed token.
    pub token: Secret,
}

/// Algorithms this build verifies.
pub const ALGORITHMS: [&str; 3] = ["RS256", "ES256", "HS256"];

impl AuthSettings {
    /// The embedded defaults (authentication off), for tests of servers without descriptors.
    #[cfg(test)]
    pub(crate) fn embedded() -> Self {
        let mut l = crate::config::Loader::new(&[], None).expect("defaults parse");
        l.section("auth").expect("auth section")
    }
}

impl IssuerSettings {
    /// An HS256 issuer with a shared `secret` (development, tests and benchmarks).
    pub fn hs256(issuer: &str, audience: &str, secret: &str) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            algorithms: vec!["HS256".into()],
            jwks_url: String::new(),
            jwks_file: String::new(),
            jwks_ca_file: String::new(),
            jwks_bearer_token_file: String::new(),
            jwks_refresh_secs: default_refresh(),
            hs256_secret: Secret::new(secret),
        }
    }

    pub fn refresh(&self) -> Duration {
        Duration::from_secs(self.jwks_refresh_secs)
    }
    pub fn has_keys(&self) -> bool {
        !self.jwks_url.is_empty() || !self.jwks_file.is_empty()
    }
}

impl Validate for AuthSettings {
    fn validate(&self, p: &mut Vec<String>) {
        if self.mode == AuthMode::Jwt && self.issuers.is_empty() && self.grants.is_empty() {
            p.push("auth: mode \"jwt\" needs at least one [[auth.issuers]] (or grants for mTLS identities)".into());
        }
        if self.leeway_secs > 300 {
            p.push("auth.leeway_secs: at most 300".into());
        }
        if !(1..=10_000_000).contains(&self.token_cache_capacity) {
            p.push("auth.token_cache_capacity: between 1 and 10000000".into());
        }
        if !(256..=65_536).contains(&self.max_token_bytes) {
            p.push("auth.max_token_bytes: between 256 and 65536".into());
        }
        for (i, g) in self.grants.iter().enumerate() {
            if g.subject.trim().is_empty() {
                p.push(format!("auth.grants[{i}].subject: must not be empty"));
            }
            if !g.issuer.is_empty() && !self.issuers.iter().any(|iss| iss.issuer == g.issuer) {
                p.push(format!(
                    "auth.grants[{i}].issuer: {:?} is not one of the [[auth.issuers]]",
                    g.issuer
                ));
            }
            for s in &g.scopes {
                if !crate::auth::policy::is_scope(s) {
                    p.push(format!(
                        "auth.grants[{i}].scopes: {s:?} is not a scope (service.name, lowercase)"
                    ));
                }
            }
        }
        for (i, iss) in self.issuers.iter().enumerate() {
            iss.validate(&format!("auth.issuers[{i}]"), p);
        }
        if self.rate_limits.burst_secs == 0 || self.rate_limits.burst_secs > 3600 {
            p.push("auth.rate_limits.burst_secs: between 1 and 3600".into());
        }
        if !self.client.token_file.is_empty() && !self.client.token.is_empty() {
            p.push("auth.client: set token_file or token, not both".into());
        }
    }
}

impl IssuerSettings {
    fn validate(&self, at: &str, p: &mut Vec<String>) {
        if self.issuer.is_empty() {
            p.push(format!("{at}.issuer: must not be empty"));
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            p.push(format!("{at}.audiences: at least one, none empty"));
        }
        if self.algorithms.is_empty() {
            p.push(format!("{at}.algorithms: at least one of {ALGORITHMS:?}"));
        }
        for a in &self.algorithms {
            if !ALGORITHMS.contains(&a.as_str()) {
                p.push(format!(
                    "{at}.algorithms: {a:?} is not one of {ALGORITHMS:?}"
                ));
            }
        }
        let hs = self.algorithms.iter().any(|a| a == "HS256");
        let public = self.algorithms.iter().any(|a| a != "HS256");
        if hs && self.hs256_secret.expose().len() < 32 {
            p.push(format!(
                "{at}.hs256_secret: HS256 needs a secret of at least 32 bytes"
            ));
        }
        if !hs && !self.hs256_secret.is_empty() {
            p.push(format!(
                "{at}.hs256_secret: set, but HS256 is not in algorithms"
            ));
        }
        if public && !self.has_keys() {
            p.push(format!("{at}: RS256/ES256 need jwks_url or jwks_file"));
        }
        if !self.jwks_url.is_empty() && !self.jwks_file.is_empty() {
            p.push(format!("{at}: set jwks_url or jwks_file, not both"));
        }
        let url = &self.jwks_url;
        if !url.is_empty() {
            if url.starts_with("https://") {
                if self.jwks_ca_file.is_empty() {
                    p.push(format!(
                        "{at}.jwks_ca_file: an https jwks_url needs the CA bundle to trust"
                    ));
                }
            } else if !url.starts_with("http://") {
                p.push(format!("{at}.jwks_url: must be http:// or https://"));
            }
        }
        if !(10..=86_400).contains(&self.jwks_refresh_secs) {
            p.push(format!("{at}.jwks_refresh_secs: between 10 and 86400"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape the Helm chart writes into a service's config file.
    const CHART: &str = r#"
[auth]
mode = "jwt"
reflection = true

[auth.client]
token_file = "/var/run/secrets/crm/token"

[[auth.grants]]
issuer = "https://kubernetes.default.svc.cluster.local"
scopes = ["customers.read", "loyalty.read"]
subject = "system:serviceaccount:crm:crm-tickets"

[[auth.issuers]]
algorithms = ["RS256", "ES256"]
audiences = ["crm"]
issuer = "https://kubernetes.default.svc.cluster.local"
jwks_bearer_token_file = "/var/run/secrets/crm/jwks/token"
jwks_ca_file = "/var/run/secrets/crm/jwks/ca.crt"
jwks_refresh_secs = 300
jwks_url = "https://kubernetes.default.svc/openid/v1/jwks"
"#;

    #[test]
    fn the_charts_auth_section_loads_over_the_defaults() {
        let mut l = crate::config::Loader::new(&[CHART], None).expect("parses");
        let a: AuthSettings = l.section("auth").expect("valid");
        assert_eq!(a.mode, AuthMode::Jwt);
        assert_eq!(a.grants.len(), 1);
        assert_eq!(
            a.grants[0].subject, "system:serviceaccount:crm:crm-tickets",
            "case and colons kept"
        );
        assert_eq!(
            a.issuers[0].jwks_url,
            "https://kubernetes.default.svc/openid/v1/jwks"
        );
        assert_eq!(a.client.token_file, "/var/run/secrets/crm/token");
        assert_eq!(
            a.rate_limits.read_per_sec, 1000,
            "unset keys keep their defaults"
        );
    }

    #[test]
    fn every_problem_of_an_issuer_is_listed() {
        let mut a = AuthSettings::embedded();
        a.mode = AuthMode::Jwt;
        a.issuers = vec![IssuerSettings {
            issuer: String::new(),
            audiences: vec![],
            algorithms: vec!["none".into(), "HS256".into(), "RS256".into()],
            jwks_url: "ftp://x".into(),
            jwks_file: "/x".into(),
            jwks_ca_file: String::new(),
            jwks_bearer_token_file: String::new(),
            jwks_refresh_secs: 1,
            hs256_secret: Secret::new("short"),
        }];
        a.grants = vec![Grant {
            issuer: "https://elsewhere".into(),
            subject: "x".into(),
            scopes: vec!["Bad".into()],
        }];
        let mut p = Vec::new();
        a.validate(&mut p);
        let all = p.join("\n");
        for expected in [
            "issuer: must not be empty",
            "audiences",
            "\"none\" is not one of",
            "at least 32 bytes",
            "not both",
            "must be http:// or https://",
            "jwks_refresh_secs",
            "is not one of the [[auth.issuers]]",
            "is not a scope",
        ] {
            assert!(all.contains(expected), "{expected:?} missing from:\n{all}");
        }
    }
}
