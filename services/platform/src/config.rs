//! Layered configuration: embedded documented defaults -> optional file -> `CRM_*` env vars,
//! validated once at start with one error that lists every problem.
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// The platform defaults, embedded so a binary runs with no file at all.
pub const PLATFORM_DEFAULTS: &str = include_str!("../config/platform.toml");

/// A value that is never printed (database URLs with passwords, keys).
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "[redacted]"
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub request_timeout_ms: u64,
    pub concurrency_limit: usize,
    pub max_message_bytes: usize,
    pub shutdown_grace_ms: u64,
}

impl ServerSettings {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: Secret,
    pub migrate_on_start: bool,
    pub max_connections: u32,
    pub min_connections: u32,
    pub connect_timeout_ms: u64,
    pub acquire_timeout_ms: u64,
    /// A pooled connection idle this long is closed (down to min_connections).
    pub idle_timeout_ms: u64,
    /// PostgreSQL `statement_timeout`; on SQLite the busy timeout.
    pub statement_timeout_ms: u64,
    /// Bound on one readiness check (a read of the migrations table).
    pub ready_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    pub enabled: bool,
    pub redis_url: Secret,
    pub key_prefix: String,
    pub ttl_secs: u64,
    pub local_ttl_ms: u64,
    pub local_capacity: u64,
    pub redis_timeout_ms: u64,
}

/// The event backbone (see [`events`](crate::events)): outbox relay, bus, consumers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    /// Empty: the in-process bus; `redis://...`: Redis Streams.
    pub redis_url: Secret,
    pub key_prefix: String,
    pub stream_max_len: u64,
    pub redis_timeout_ms: u64,
    pub relay_interval_ms: u64,
    pub relay_idle_max_ms: u64,
    pub relay_batch: u64,
    pub outbox_retention_hours: u64,
    pub consumer_batch: u64,
    pub read_block_ms: u64,
    pub claim_idle_ms: u64,
    pub max_attempts: u64,
    pub handler_timeout_ms: u64,
    pub inbox_retention_hours: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Pretty,
    Compact,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub page_token_secret: Secret,
}

/// The sections every service binary has.
#[derive(Debug, Clone, Deserialize)]
pub struct PlatformSettings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub cache: CacheSettings,
    pub telemetry: TelemetrySettings,
    pub security: SecuritySettings,
    pub events: EventsSettings,
    pub auth: crate::auth::AuthSettings,
    pub tls: crate::tls::TlsSettings,
    pub pii: crate::pii::PiiSettings,
}

mod load;
pub use load::{ConfigError, Loader, Problems};

/// Checks a settings section, adding one line per problem.
pub trait Validate {
    fn validate(&self, problems: &mut Vec<String>);
}

// Each section checks itself as it is read, so a section that fails to parse does not hide
// the problems of the others.
impl Validate for ServerSettings {
    fn validate(&self, p: &mut Vec<String>) {
        if self.host.parse::<std::net::IpAddr>().is_err() && self.host != "localhost" {
            p.push(format!("server.host: {:?} is not an IP address", self.host));
        }
        for (name, v) in [
            ("request_timeout_ms", self.request_timeout_ms),
            ("shutdown_grace_ms", self.shutdown_grace_ms),
        ] {
            if v == 0 {
                p.push(format!("server.{name}: must be > 0"));
            }
        }
        if self.concurrency_limit == 0 {
            p.push("server.concurrency_limit: must be > 0".into());
        }
        if self.max_message_bytes < 1024 {
            p.push("server.max_message_bytes: must be at least 1024".into());
        }
    }
}

impl Validate for DatabaseSettings {
    fn validate(&self, p: &mut Vec<String>) {
        let url = self.url.expose();
        if !["postgres://", "postgresql://", "sqlite:"]
            .iter()
            .any(|s| url.starts_with(s))
        {
            p.push("database.url: must start with postgres://, postgresql:// or sqlite:".into());
        }
        if self.max_connections == 0 || self.min_connections > self.max_connections {
            p.push("database: need 0 < min_connections <= max_connections".into());
        }
        for (name, v) in [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("acquire_timeout_ms", self.acquire_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("statement_timeout_ms", self.statement_timeout_ms),
            ("ready_timeout_ms", self.ready_timeout_ms),
        ] {
            if v == 0 {
                p.push(format!("database.{name}: must be > 0"));
            }
        }
    }
}

/// Problems of a `section.redis_url` (empty, `redis://` or `unix://`; no TLS).
fn validate_redis_url(section: &str, url: &Secret, p: &mut Vec<String>) {
    let r = url.expose();
    if r.starts_with("rediss://") {
        p.push(format!(
            "{section}.redis_url: rediss:// (TLS) is not supported: the Redis client is built without TLS; use redis:// over a trusted network or a TLS sidecar"
        ));
    } else if !r.is_empty() && !["redis://", "unix://"].iter().any(|s| r.starts_with(s)) {
        p.push(format!(
            "{section}.redis_url: must be empty or start with redis:// or unix://"
        ));
    }
}

/// Problems of a `section.key_prefix` (non-empty, no spaces).
fn validate_key_prefix(section: &str, prefix: &str, p: &mut Vec<String>) {
    if prefix.is_empty() || prefix.contains(char::is_whitespace) {
        p.push(format!(
            "{section}.key_prefix: must be non-empty with no spaces"
        ));
    }
}

impl Validate for CacheSettings {
    fn validate(&self, p: &mut Vec<String>) {
        validate_redis_url("cache", &self.redis_url, p);
        if self.local_ttl_ms < 10 {
            p.push(
                "cache.local_ttl_ms: must be at least 10 (it bounds staleness across replicas)"
                    .into(),
            );
        }
        if self.ttl_secs == 0 {
            p.push("cache.ttl_secs: must be > 0 (every cache write has a TTL)".into());
        }
        validate_key_prefix("cache", &self.key_prefix, p);
    }
}

impl Validate for EventsSettings {
    fn validate(&self, p: &mut Vec<String>) {
        validate_redis_url("events", &self.redis_url, p);
        validate_key_prefix("events", &self.key_prefix, p);
        let year = crate::idempotency::MAX_RETENTION_HOURS;
        for (name, v, min, max) in [
            ("stream_max_len", self.stream_max_len, 1_000, 100_000_000),
            ("redis_timeout_ms", self.redis_timeout_ms, 10, 60_000),
            ("relay_interval_ms", self.relay_interval_ms, 1, 60_000),
            ("relay_idle_max_ms", self.relay_idle_max_ms, 1, 60_000),
            ("relay_batch", self.relay_batch, 1, 10_000),
            (
                "outbox_retention_hours",
                self.outbox_retention_hours,
                1,
                year,
            ),
            ("consumer_batch", self.consumer_batch, 1, 1_000),
            ("read_block_ms", self.read_block_ms, 1, 60_000),
            ("claim_idle_ms", self.claim_idle_ms, 100, 3_600_000),
            ("max_attempts", self.max_attempts, 1, 100),
            ("handler_timeout_ms", self.handler_timeout_ms, 1, 600_000),
            ("inbox_retention_hours", self.inbox_retention_hours, 1, year),
        ] {
            if !(min..=max).contains(&v) {
                p.push(format!("events.{name}: must be between {min} and {max}"));
            }
        }
        if self.relay_idle_max_ms < self.relay_interval_ms {
            p.push("events.relay_idle_max_ms: must be at least relay_interval_ms".into());
        }
        if self.claim_idle_ms <= self.handler_timeout_ms {
            p.push(
                "events.claim_idle_ms: must exceed handler_timeout_ms (a delivery still being handled is not reclaimed)"
                    .into(),
            );
        }
    }
}

impl Validate for TelemetrySettings {
    fn validate(&self, p: &mut Vec<String>) {
        if tracing_subscriber::EnvFilter::try_new(&self.level).is_err() {
            p.push(format!(
                "telemetry.level: {:?} is not a valid filter",
                self.level
            ));
        }
    }
}

impl Validate for SecuritySettings {
    fn validate(&self, p: &mut Vec<String>) {
        let secret = &self.page_token_secret;
        if !secret.is_empty() && secret.expose().len() < 32 {
            p.push(
                "security.page_token_secret: must be at least 32 bytes (or empty for a random one)"
                    .into(),
            );
        }
    }
}

/// Query parameters whose values are never logged (matched case-insensitively, also as part
/// of a longer name such as `sslpassword` or `client_secret`).
const SECRET_PARAMS: [&str; 4] = ["password", "pass", "secret", "token"];

/// Replaces the password of a URL, and the value of any secret-looking query parameter, with
/// `***` for logs.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &base[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &base[..scheme + 3],
                    &creds[..colon],
                    &base[at..]
                ),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(q) = query {
        let params: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _))
                    if SECRET_PARAMS
                        .iter()
                        .any(|s| k.to_ascii_lowercase().contains(s)) =>
                {
                    format!("{k}=***")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_printed() {
        let s = Secret::new("postgres://u:hunter2@db/x");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(redact_url(s.expose()), "postgres://u:***@db/x");
        assert_eq!(
            redact_url("redis://localhost:6379"),
            "redis://localhost:6379"
        );
    }

    #[test]
    fn secret_query_parameters_are_redacted() {
        assert_eq!(
            redact_url("postgres://u@db/x?password=hunter2&sslmode=require"),
            "postgres://u@db/x?password=***&sslmode=require"
        );
        assert_eq!(
            redact_url(
                "postgres://u:pw@db/x?sslpassword=k1&PASS=k2&client_secret=k3&application_name=crm"
            ),
            "postgres://u:***@db/x?sslpassword=***&PASS=***&client_secret=***&application_name=crm"
        );
        assert_eq!(
            redact_url("sqlite://data/x.sqlite?mode=rwc"),
            "sqlite://data/x.sqlite?mode=rwc"
        );
    }

    #[test]
    fn tls_redis_is_refused_with_a_reason() {
        let mut l = Loader::new(&[], None).expect("defaults parse");
        let mut cache: CacheSettings = l.section("cache").expect("cache");
        cache.redis_url = Secret::new("rediss://cache:6380");
        let mut problems = Vec::new();
        cache.validate(&mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("TLS"), "{problems:?}");
        cache.redis_url = Secret::new("redis://cache:6379");
        problems.clear();
        cache.validate(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }
}
