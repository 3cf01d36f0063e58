//! Tests run with authentication on: every test server trusts one HS256 issuer, and harnesses
//! mint the tokens their clients send.
use crate::auth::settings::{AuthMode, AuthSettings, IssuerSettings};
use crate::auth::{Rule, mint};
use crate::config::{PlatformSettings, Secret};
use std::time::Duration;

pub const SECRET: &str = "crm-test-hs256-secret-of-at-least-32-bytes";
pub const ISSUER: &str = "crm-test";
pub const AUDIENCE: &str = "crm";
/// The subject of harness tokens.
pub const SUBJECT: &str = "crm-test-harness";

/// Turns JWT authentication on with the test issuer (rate limits off: tests call fast).
pub fn enable(p: &mut PlatformSettings) {
    enable_on(&mut p.auth);
}

/// [`enable`] on the `[auth]` section alone.
pub fn enable_on(p: &mut AuthSettings) {
    p.mode = AuthMode::Jwt;
    p.issuers = vec![IssuerSettings::hs256(ISSUER, AUDIENCE, SECRET)];
    p.rate_limits.read_per_sec = 0;
    p.rate_limits.write_per_sec = 0;
    p.rate_limits.admin_per_sec = 0;
}

/// A token of the test issuer for `subject` with `scopes`, valid for an hour.
pub fn token(subject: &str, scopes: &[&str]) -> String {
    token_with(&mint::claims(
        ISSUER,
        AUDIENCE,
        subject,
        scopes,
        Duration::from_secs(3600),
    ))
}

/// `claims` signed by the test issuer (tests of expired, foreign or odd tokens).
pub fn token_with(claims: &serde_json::Value) -> String {
    mint::hs256(SECRET, claims).expect("test tokens sign")
}

/// Every scope of `policy`: those its methods need and its data scopes.
pub fn scopes_of(policy: &[Rule]) -> Vec<&'static str> {
    let mut s: Vec<&'static str> = policy.iter().map(|r| r.scope).collect();
    s.sort_unstable();
    s.dedup();
    s
}

/// A harness token that may call every method of `policy`.
pub fn token_for(policy: &[Rule]) -> String {
    token(SUBJECT, &scopes_of(policy))
}

/// The subject of tickets' own calls in tests (a service identity, not the harness's).
pub const TICKETS_SUBJECT: &str = "crm-tickets";
/// What tickets needs of the services it calls: reading customers (with their names in
/// clear, for the replies it writes to them) and balances, no more.
pub const TICKETS_CALLS: &[&str] = &["customers.read", "customers.pii.read", "loyalty.read"];

/// The subject of campaigns' own calls in tests.
pub const CAMPAIGNS_SUBJECT: &str = "crm-campaigns";
/// What campaigns needs of the services it calls: profiles in clear (to address and render
/// messages), insights, balances and tiers, and tickets (a rebuild's open complaints).
pub const CAMPAIGNS_CALLS: &[&str] = &[
    "customers.read",
    "customers.pii.read",
    "loyalty.read",
    "tickets.read",
];

/// The subject of the embedded suite's calls to itself (one process making every service's
/// calls).
pub const SUITE_SUBJECT: &str = "crm-suite";

/// What the embedded suite's services together call: every service's calls.
pub fn suite_calls() -> Vec<&'static str> {
    let mut s: Vec<&'static str> = TICKETS_CALLS
        .iter()
        .chain(CAMPAIGNS_CALLS)
        .copied()
        .collect();
    s.sort_unstable();
    s.dedup();
    s
}

/// Makes a service send a token of `subject` with `scopes` on its own outgoing calls
/// (`[auth.client]`), as a deployment gives it its own identity.
pub fn send_as(p: &mut PlatformSettings, subject: &str, scopes: &[&str]) {
    p.auth.client.token = Secret::new(token(subject, scopes));
    p.auth.client.token_file.clear();
}

/// A connection to the test server on `port` whose calls carry a token of `subject` with
/// `scopes` (e.g. a customer's own token: subject `customers/{id}`).
pub async fn channel_as(port: u16, subject: &str, scopes: &[&str]) -> crate::client::TracedChannel {
    let credentials =
        crate::client::Credentials::token(&token(subject, scopes)).expect("ascii token");
    crate::client::with_metadata(super::channel(port).await, credentials)
}
