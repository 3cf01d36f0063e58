//! Who is calling and what they may do, for every service by construction.
//!
//! - **Authentication** ([`verify`], [`jwks`]): a bearer JWT in `authorization` (issuer,
//!   audience, expiry, not-before, algorithm allow-list; RS256/ES256 keys from a JWKS file or
//!   URL refreshed in the background, HS256 with a shared secret for development), or a client
//!   certificate verified by mTLS (its SPIFFE id). Kubernetes projected service-account tokens
//!   are JWTs of the cluster's issuer, so they work as service identity with its JWKS.
//! - **Authorization** ([`policy`]): each service's table maps every RPC to one scope; scopes
//!   come from the token's `scope`/`scp` claim and from `[[auth.grants]]` by subject. Object
//!   rules live in the handlers: a customer's own token (subject `customers/{id}`) reaches
//!   only self-service methods and, through [`Principal::require_customer`], only their own
//!   resources.
//! - **Abuse limits** ([`rate`]): calls per second per identity and method class.
//!
//! The [`layer`] does all of it before a handler runs and hands the handler the
//! [`Principal`] ([`caller`]). Health and reflection never need a token.
pub mod jwks;
pub mod layer;
pub mod mint;
pub mod policy;
pub mod rate;
pub mod settings;
pub mod verify;

pub use layer::{Auth, AuthLayer};
pub use policy::{Class, Policies, Rule, admin, data, read, write};
pub use settings::{AuthMode, AuthSettings, ClientAuthSettings, Grant, IssuerSettings};

use crate::error::{Error, ErrorCode};
use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

/// ErrorInfo reasons of refused calls.
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const MISSING_SCOPE: &str = "MISSING_SCOPE";
pub const CUSTOMER_TOKEN_NOT_ALLOWED: &str = "CUSTOMER_TOKEN_NOT_ALLOWED";
pub const NOT_OWN_RESOURCE: &str = "NOT_OWN_RESOURCE";
pub const RATE_LIMITED: &str = "RATE_LIMITED";
pub const KEYS_UNAVAILABLE: &str = "KEYS_UNAVAILABLE";

/// Subjects of customer-facing tokens: `customers/{id}`.
const CUSTOMER_SUBJECT: &str = "customers/";

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Token,
    Certificate,
    /// `auth.mode = "off"`: nobody is asked.
    None,
}

/// The identity of a call and what it may do.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub scopes: BTreeSet<String>,
    /// For a customer's own token: the customer it is limited to. A `customers/...` subject
    /// that is not a customer id is limited to the nil id, which no customer has.
    pub customer: Option<uuid::Uuid>,
    pub proof: Proof,
    /// Whether every scope is granted (auth off).
    all_scopes: bool,
    /// The subject, shared with the rate limiter's state.
    rate_key: Arc<str>,
    /// This identity's rate budgets, found on the first call with this (cached) principal.
    limits: std::sync::OnceLock<Arc<rate::SubjectLimits>>,
}

impl PartialEq for Principal {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.subject,
            &self.scopes,
            &self.customer,
            self.proof,
            self.all_scopes,
        ) == (
            &other.subject,
            &other.scopes,
            &other.customer,
            other.proof,
            other.all_scopes,
        )
    }
}
impl Eq for Principal {}

impl std::fmt::Debug for rate::SubjectLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectLimits")
    }
}

impl Principal {
    /// `subject` with `scopes`; a `customers/{id}` subject is limited to that customer.
    pub fn new(subject: impl Into<String>, scopes: BTreeSet<String>, proof: Proof) -> Self {
        let subject = subject.into();
        let customer = subject
            .strip_prefix(CUSTOMER_SUBJECT)
            .map(|id| uuid::Uuid::try_parse(id).unwrap_or(uuid::Uuid::nil()));
        Self {
            rate_key: Arc::from(subject.as_str()),
            limits: std::sync::OnceLock::new(),
            subject,
            scopes,
            customer,
            proof,
            all_scopes: false,
        }
    }

    /// The caller of every call when authentication is off.
    pub fn unchecked() -> Self {
        Self {
            all_scopes: true,
            ..Self::new("anonymous", BTreeSet::new(), Proof::None)
        }
    }

    pub fn rate_key(&self) -> &Arc<str> {
        &self.rate_key
    }

    /// This identity's rate budgets, looked up by `find` once per principal.
    pub fn limits(&self, find: impl FnOnce() -> Arc<rate::SubjectLimits>) -> &rate::SubjectLimits {
        self.limits.get_or_init(find)
    }

    pub fn has(&self, scope: &str) -> bool {
        self.all_scopes || self.scopes.contains(scope)
    }

    /// Ok unless the caller is limited to another customer than `customer_id` (object-level
    /// authorization, OWASP API1).
    pub fn require_customer(&self, customer_id: uuid::Uuid) -> Result<(), Error> {
        match self.customer {
            Some(own) if own != customer_id => Err(Error::new(
                ErrorCode::PermissionDenied,
                NOT_OWN_RESOURCE,
                "this token may only reach its own customer's resources",
            )),
            _ => Ok(()),
        }
    }
}

/// What a handler sees when no principal was attached (a call that did not come through the
/// server): nothing is allowed.
static NOBODY: LazyLock<Arc<Principal>> = LazyLock::new(|| {
    Arc::new(Principal::new(
        format!("{CUSTOMER_SUBJECT}-"),
        BTreeSet::new(),
        Proof::None,
    ))
});

/// The principal the auth layer attached to the call being served.
pub fn caller<T>(request: &tonic::Request<T>) -> Arc<Principal> {
    request
        .extensions()
        .get::<Arc<Principal>>()
        .cloned()
        .unwrap_or_else(|| NOBODY.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_tokens_reach_only_their_own_customer() {
        let (c1, c2) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let p = Principal::new(format!("customers/{c1}"), BTreeSet::new(), Proof::Token);
        assert_eq!(p.customer, Some(c1));
        assert!(p.require_customer(c1).is_ok());
        let upper = Principal::new(
            format!("customers/{}", c1.to_string().to_uppercase()),
            BTreeSet::new(),
            Proof::Token,
        );
        assert!(
            upper.require_customer(c1).is_ok(),
            "the id, not its spelling"
        );
        let err = p.require_customer(c2).expect_err("not theirs");
        assert_eq!(err.reason, NOT_OWN_RESOURCE);
        let garbled = Principal::new("customers/c1", BTreeSet::new(), Proof::Token);
        assert!(garbled.customer.is_some(), "still a customer token");
        assert!(
            garbled.require_customer(c1).is_err(),
            "that reaches no customer"
        );
        let service = Principal::new("system:serviceaccount:crm:x", BTreeSet::new(), Proof::Token);
        assert!(service.require_customer(c2).is_ok());
    }

    #[test]
    fn a_call_without_a_principal_may_do_nothing() {
        let p = caller(&tonic::Request::new(()));
        assert!(!p.has("customers.read"));
        assert!(p.require_customer(uuid::Uuid::now_v7()).is_err());
        assert!(Principal::unchecked().has("customers.read"));
    }
}
