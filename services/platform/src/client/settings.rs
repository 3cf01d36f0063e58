//! How a service is called: where, how long to wait, and which failures are worth another
//! attempt.
use crate::tls::TlsClientSettings;
use std::time::Duration;
use tonic::Code;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// `http(s)://host:port` of the service.
    pub url: String,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest wait for one attempt.
    pub call_timeout: Duration,
    /// Longest wait for the whole call, every attempt and pause included; the caller's own
    /// deadline caps it further.
    pub total_timeout: Duration,
    pub retry: RetryPolicy,
    /// What the calls carry as this service's identity.
    pub credentials: super::Credentials,
    /// CA and client certificate for an `https://` url (the platform's `[tls.client]`).
    pub tls: TlsClientSettings,
}

impl ClientSettings {
    /// `timeout` bounds the connection, each attempt and the whole call; the default retry
    /// policy; no TLS files (set `tls` for an `https://` url). A stalled attempt thus ends the call, a refused one is retried.
    pub fn new(url: impl Into<String>, timeout: Duration) -> Self {
        Self {
            url: url.into(),
            connect_timeout: timeout,
            call_timeout: timeout,
            total_timeout: timeout,
            retry: RetryPolicy::default(),
            credentials: super::Credentials::default(),
            tls: TlsClientSettings::default(),
        }
    }

    /// The same, calling as the service configured by `platform`: its `[auth.client]`
    /// credentials on every call, its `[tls.client]` files for an https url.
    pub fn calling_as(self, platform: &crate::config::PlatformSettings) -> anyhow::Result<Self> {
        Ok(Self {
            credentials: super::Credentials::from_settings(&platform.auth.client)?,
            tls: platform.tls.client.clone(),
            ..self
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: never retried).
    pub attempts: u32,
    /// Pause before the first retry; it doubles per retry, and jitter adds up to as much
    /// again, so replicas that failed together do not retry together.
    pub backoff_base: Duration,
    /// Longest pause (before jitter).
    pub backoff_max: Duration,
    /// Whether RESOURCE_EXHAUSTED (the callee shedding load) is worth another attempt.
    pub retry_resource_exhausted: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            retry_resource_exhausted: false,
        }
    }
}

/// Whether an RPC may be sent again after a failure whose effect is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotence {
    /// Changes nothing (a Get, a List).
    ReadOnly,
    /// Changes state, but carries a request id: a repeat is a replay of the first answer.
    Idempotent,
    /// A repeat could apply twice: sent once.
    NotIdempotent,
}

impl RetryPolicy {
    /// Whether a `code` answer to a `call` is retried (attempts and time permitting).
    /// UNAVAILABLE: the callee was not reached or is restarting. DEADLINE_EXCEEDED: the
    /// attempt may have been applied, so only a call that can be repeated safely is retried.
    pub fn retries(&self, call: Idempotence, code: Code) -> bool {
        if call == Idempotence::NotIdempotent {
            return false;
        }
        match code {
            Code::Unavailable | Code::DeadlineExceeded => true,
            Code::ResourceExhausted => self.retry_resource_exhausted,
            _ => false,
        }
    }
}
