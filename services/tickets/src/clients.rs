//! Calls to the customers and loyalty services (questions only: the customer check and the
//! loyalty tier; facts such as goodwill points travel as events), on the platform's client (deadlines capped by
//! the call being served, retry of read-only and idempotent calls, trace propagation).
//! Answers come back as plain values so the service layer knows no tonic types; an
//! unconfigured or unreachable service is an answer too.
use crate::domain::CustomerId;
use crate::settings::ClientsSettings;
use crm_platform::client::{Idempotence, Remote, TracedChannel};
use crm_platform::config::PlatformSettings;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use crm_proto::{customers as cpb, loyalty as lpb};
use std::time::Duration;
use tonic::{Code, Status};

/// What the customers service said about a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerLookup {
    /// A live customer. `id` is the one asked about, or its survivor when that customer was
    /// merged away (GetCustomer resolves merges).
    Found {
        id: CustomerId,
        given_name: String,
        display_name: String,
    },
    /// Soft-deleted (state DELETED, or the CUSTOMER_DELETED reason).
    Deleted,
    /// Erased under a data-protection request (state ERASED, or NOT_FOUND with the
    /// CUSTOMER_ERASED reason).
    Erased,
    NotFound,
    /// Not configured, unreachable, or failing: the caller carries on unverified.
    Unknown,
}

#[derive(Clone, Default)]
pub struct Clients {
    customers: Option<Remote<CustomerServiceClient<TracedChannel>>>,
    loyalty: Option<Remote<LoyaltyServiceClient<TracedChannel>>>,
}

/// A client of the service at `url`; none when the url is empty (not configured). The one
/// `timeout_ms` bounds each call, retries included.
fn remote<C: Clone>(
    url: &str,
    s: &ClientsSettings,
    platform: &PlatformSettings,
    make: impl FnOnce(TracedChannel) -> C,
) -> anyhow::Result<Option<Remote<C>>> {
    Remote::configured(url, Duration::from_millis(s.timeout_ms), platform, make)
}

/// Reads GetCustomer's answer about `asked`. Both forms of a gone customer are understood:
/// the record with state DELETED / ERASED, and an error with the CUSTOMER_DELETED /
/// CUSTOMER_ERASED reason.
fn lookup(asked: CustomerId, res: Result<cpb::Customer, Status>) -> CustomerLookup {
    use cpb::customer::State;
    match res {
        Ok(c) => match State::try_from(c.state) {
            Ok(State::Erased) => CustomerLookup::Erased,
            Ok(State::Deleted) => CustomerLookup::Deleted,
            _ => {
                let id = CustomerId::parse_name(&c.name).unwrap_or_else(|_| {
                    tracing::warn!(customer = %asked, answered = c.name, "customers service answered an unparsable name");
                    asked
                });
                CustomerLookup::Found {
                    id,
                    given_name: c.given_name,
                    display_name: c.display_name,
                }
            }
        },
        Err(s) => match crm_platform::grpc::reason_of(&s).as_deref() {
            Some("CUSTOMER_ERASED") => CustomerLookup::Erased,
            Some("CUSTOMER_DELETED") => CustomerLookup::Deleted,
            _ if s.code() == Code::NotFound => CustomerLookup::NotFound,
            _ => {
                tracing::warn!(code = ?s.code(), message = s.message(), "customers service lookup failed");
                CustomerLookup::Unknown
            }
        },
    }
}

impl Clients {
    /// Lazy channels: nothing is dialled until the first call.
    /// Lazy clients of the configured services (nothing is dialled until the first call),
    /// calling as this service (`platform`'s `[auth.client]` credentials, `[tls.client]` for
    /// https urls).
    pub fn new(s: &ClientsSettings, platform: &PlatformSettings) -> anyhow::Result<Self> {
        Ok(Self {
            customers: remote(&s.customers_url, s, platform, CustomerServiceClient::new)?,
            loyalty: remote(&s.loyalty_url, s, platform, LoyaltyServiceClient::new)?,
        })
    }

    pub fn customers_configured(&self) -> bool {
        self.customers.is_some()
    }

    pub async fn customer(&self, id: CustomerId) -> CustomerLookup {
        let Some(client) = &self.customers else {
            return CustomerLookup::Unknown;
        };
        let req = cpb::GetCustomerRequest { name: id.name() };
        let res = client
            .call(Idempotence::ReadOnly, req, |mut c, req| async move {
                c.get_customer(req).await
            })
            .await;
        lookup(id, res)
    }

    /// The customer's loyalty tier code, when loyalty is configured and answers.
    pub async fn tier(&self, id: CustomerId) -> Option<String> {
        let client = self.loyalty.as_ref()?;
        let req = lpb::GetTierRequest {
            customer: id.name(),
        };
        let res = client
            .call(Idempotence::ReadOnly, req, |mut c, req| async move {
                c.get_tier(req).await
            })
            .await;
        match res {
            Ok(t) => Some(t.tier),
            Err(s) => {
                tracing::warn!(code = ?s.code(), message = s.message(), "loyalty tier lookup failed");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(name: &str, state: cpb::customer::State) -> Result<cpb::Customer, Status> {
        Ok(cpb::Customer {
            name: name.to_owned(),
            given_name: "Wei".into(),
            display_name: "Wei Li".into(),
            state: state as i32,
            ..Default::default()
        })
    }

    fn refused(code: Code, reason: &str) -> Result<cpb::Customer, Status> {
        use tonic_types::{ErrorDetails, StatusExt};
        let details = ErrorDetails::with_error_info(reason, "customers.crm", []);
        Err(Status::with_error_details(code, "refused", details))
    }

    #[test]
    fn gone_customers_are_read_in_both_forms() {
        use cpb::customer::State;
        let asked = CustomerId::generate();
        let survivor = CustomerId::generate();
        assert_eq!(
            lookup(asked, answered(&asked.name(), State::Active)),
            CustomerLookup::Found {
                id: asked,
                given_name: "Wei".into(),
                display_name: "Wei Li".into()
            }
        );
        // A merged-away customer: the answer is the survivor.
        assert!(matches!(
            lookup(asked, answered(&survivor.name(), State::Active)),
            CustomerLookup::Found { id, .. } if id == survivor
        ));
        assert_eq!(
            lookup(asked, answered(&asked.name(), State::Erased)),
            CustomerLookup::Erased
        );
        assert_eq!(
            lookup(asked, answered(&asked.name(), State::Deleted)),
            CustomerLookup::Deleted
        );
        assert_eq!(
            lookup(asked, refused(Code::NotFound, "CUSTOMER_ERASED")),
            CustomerLookup::Erased
        );
        assert_eq!(
            lookup(asked, refused(Code::FailedPrecondition, "CUSTOMER_DELETED")),
            CustomerLookup::Deleted
        );
        assert_eq!(
            lookup(asked, refused(Code::NotFound, "NOT_FOUND")),
            CustomerLookup::NotFound
        );
        assert_eq!(
            lookup(asked, Err(Status::unavailable("down"))),
            CustomerLookup::Unknown
        );
    }

    #[tokio::test]
    async fn unconfigured_services_answer_without_calling() {
        let c = Clients::default();
        let id = CustomerId::generate();
        assert_eq!(c.customer(id).await, CustomerLookup::Unknown);
        assert_eq!(c.tier(id).await, None);
    }
}
