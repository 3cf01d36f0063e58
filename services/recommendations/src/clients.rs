//! Calls to customers for the profiles cold start uses (questions only), on the platform's
//! client (deadlines, retry of read-only calls, trace propagation, this service's
//! credentials). Unconfigured (empty url): profiles keep what events told.
//!
//! Only `customers.read` is needed: language, tags and the city of an address are not
//! masked for callers without `customers.pii.read`.
use crate::domain::CustomerId;
use crate::domain::profile::Profile;
use crate::settings::ClientsSettings;
use crm_platform::client::{Idempotence, Remote, TracedChannel};
use crm_platform::config::PlatformSettings;
use crm_proto::customers as cpb;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use std::time::Duration;
use tonic::Code;

/// Tags kept per profile, and the longest kept (longer ones are dropped, not cut: a cut tag
/// would be a cohort nobody else is in).
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_LEN: usize = 100;
/// The stored columns' widths (`profiles.language_code`, `profiles.city`).
const MAX_LANGUAGE_LEN: usize = 64;
const MAX_CITY_LEN: usize = 200;

/// What customers answered about one customer's profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileAnswer {
    /// Its language, city and tags (the tier is loyalty's: left empty).
    Found(Profile),
    /// Unknown, deleted, merged away or erased: nothing to fill until an event says more.
    Gone,
    /// The call failed (timeout, unavailable, refused): tried again later.
    Failed,
}

#[derive(Clone, Default)]
pub struct Clients {
    pub customers: Option<Remote<CustomerServiceClient<TracedChannel>>>,
}

impl Clients {
    /// Lazy clients of the configured services (nothing is dialled until the first call).
    pub fn new(s: &ClientsSettings, platform: &PlatformSettings) -> anyhow::Result<Self> {
        Ok(Self {
            customers: Remote::configured(
                &s.customers_url,
                Duration::from_millis(s.timeout_ms),
                platform,
                CustomerServiceClient::new,
            )?,
        })
    }

    pub fn customers_configured(&self) -> bool {
        self.customers.is_some()
    }

    /// The customer's profile from GetCustomer, each call bounded by `clients.timeout_ms`
    /// (retries included).
    pub async fn profile(&self, id: CustomerId) -> ProfileAnswer {
        let Some(client) = &self.customers else {
            return ProfileAnswer::Failed;
        };
        let req = cpb::GetCustomerRequest { name: id.name() };
        match client
            .call(Idempotence::ReadOnly, req, |mut c, req| async move {
                c.get_customer(req).await
            })
            .await
        {
            Ok(c) if c.state() == cpb::customer::State::Active => {
                ProfileAnswer::Found(profile_of(&c))
            }
            Ok(_) => ProfileAnswer::Gone,
            Err(s) if gone(&s) => ProfileAnswer::Gone,
            Err(s) => {
                tracing::warn!(code = ?s.code(), reason = ?crm_platform::grpc::reason_of(&s), customer = %id.name(), "profile refresh call failed");
                ProfileAnswer::Failed
            }
        }
    }
}

/// Whether customers refused because the customer is gone for good (unknown, deleted,
/// erased), rather than the call having failed.
fn gone(s: &tonic::Status) -> bool {
    s.code() == Code::NotFound
        || matches!(
            crm_platform::grpc::reason_of(s).as_deref(),
            Some("CUSTOMER_ERASED" | "CUSTOMER_DELETED" | "CUSTOMER_MERGED")
        )
}

/// What cold start keeps of a customer: the primary language subtag, the city of the first
/// address that has one, the tags; lower-case and bounded to the stored widths.
pub fn profile_of(c: &cpb::Customer) -> Profile {
    let language = c
        .language_code
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let city = c
        .addresses
        .iter()
        .map(|a| a.locality.trim())
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_lowercase();
    let mut tags: Vec<String> = c
        .tags
        .iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty() && t.chars().count() <= MAX_TAG_LEN)
        .collect();
    tags.sort();
    tags.dedup();
    tags.truncate(MAX_TAGS);
    Profile {
        language: bounded(language, MAX_LANGUAGE_LEN),
        city: bounded(city, MAX_CITY_LEN),
        tier: String::new(),
        tags,
    }
}

/// `s` if it fits `max` characters (and has no control characters), else empty: a cut value
/// would be a wrong cohort.
fn bounded(s: String, max: usize) -> String {
    if s.chars().count() <= max && !s.chars().any(char::is_control) {
        s
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_proto::common::PostalAddress;

    #[test]
    fn profile_of_takes_primary_language_first_city_and_bounded_tags() {
        let c = cpb::Customer {
            language_code: "ja-JP".into(),
            addresses: vec![
                PostalAddress::default(),
                PostalAddress {
                    locality: " Kyoto ".into(),
                    ..Default::default()
                },
            ],
            tags: vec!["VIP".into(), "vip".into(), " ".into(), "x".repeat(101)],
            ..Default::default()
        };
        let p = profile_of(&c);
        assert_eq!(p.language, "ja");
        assert_eq!(p.city, "kyoto");
        assert_eq!(p.tags, ["vip"]);
        assert_eq!(p.tier, "");
        assert_eq!(profile_of(&cpb::Customer::default()), Profile::default());
    }
}
