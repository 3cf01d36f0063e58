//! Calls to the customers and loyalty services: deadlines (the channel's timeout), one retry
//! on UNAVAILABLE, trace propagation. Answers come back as plain values so the service layer
//! knows no tonic types; an unconfigured or unreachable service is an answer too.
use crate::domain::CustomerId;
use crate::settings::ClientsSettings;
use crm_platform::client::{PropagateTrace, channel};
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use crm_proto::{customers as cpb, loyalty as lpb};
use std::future::Future;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};

type Svc = InterceptedService<Channel, PropagateTrace>;

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

/// What became of a goodwill award.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goodwill {
    Awarded,
    /// Loyalty is not configured, or unreachable or failing: worth asking again later.
    Later,
    /// Loyalty said no for good (e.g. it does not know the customer).
    Refused,
}

#[derive(Clone, Default)]
pub struct Clients {
    customers: Option<CustomerServiceClient<Svc>>,
    loyalty: Option<LoyaltyServiceClient<Svc>>,
}

/// Runs `call` and once more after a short pause when the first answer is UNAVAILABLE.
async fn retry<T, F, Fut>(mut call: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    match call().await {
        Err(s) if s.code() == Code::Unavailable => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            call().await
        }
        other => other,
    }
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
    pub fn new(s: &ClientsSettings) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(s.timeout_ms);
        let customers = if s.customers_url.is_empty() {
            None
        } else {
            Some(CustomerServiceClient::with_interceptor(
                channel(&s.customers_url, timeout)?,
                PropagateTrace,
            ))
        };
        let loyalty = if s.loyalty_url.is_empty() {
            None
        } else {
            Some(LoyaltyServiceClient::with_interceptor(
                channel(&s.loyalty_url, timeout)?,
                PropagateTrace,
            ))
        };
        Ok(Self { customers, loyalty })
    }

    pub fn customers_configured(&self) -> bool {
        self.customers.is_some()
    }

    pub fn loyalty_configured(&self) -> bool {
        self.loyalty.is_some()
    }

    pub async fn customer(&self, id: CustomerId) -> CustomerLookup {
        let Some(client) = &self.customers else {
            return CustomerLookup::Unknown;
        };
        let name = id.name();
        let res = retry(|| {
            let mut c = client.clone();
            let name = name.clone();
            async move {
                c.get_customer(cpb::GetCustomerRequest { name })
                    .await
                    .map(tonic::Response::into_inner)
            }
        })
        .await;
        lookup(id, res)
    }

    /// The customer's loyalty tier code, when loyalty is configured and answers.
    pub async fn tier(&self, id: CustomerId) -> Option<String> {
        let client = self.loyalty.as_ref()?;
        let customer = id.name();
        let res = retry(|| {
            let mut c = client.clone();
            let customer = customer.clone();
            async move {
                c.get_tier(lpb::GetTierRequest { customer })
                    .await
                    .map(tonic::Response::into_inner)
            }
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

    /// Awards goodwill points; `request_id` makes a repeat a replay (so `reason` must be the
    /// same on every attempt).
    pub async fn goodwill(
        &self,
        id: CustomerId,
        points: i64,
        reason: &str,
        request_id: uuid::Uuid,
    ) -> Goodwill {
        let Some(client) = &self.loyalty else {
            return Goodwill::Later;
        };
        let req = lpb::EarnRequest {
            customer: id.name(),
            source: Some(lpb::earn_request::Source::Goodwill(lpb::Goodwill {
                points,
                reason: reason.to_owned(),
                actor: "tickets".to_owned(),
            })),
            available_time: None,
            expire_time: None,
            request_id: request_id.to_string(),
        };
        let res = retry(|| {
            let mut c = client.clone();
            let req = req.clone();
            async move { c.earn(req).await }
        })
        .await;
        match res {
            Ok(_) => Goodwill::Awarded,
            Err(s) => {
                tracing::warn!(code = ?s.code(), message = s.message(), "goodwill points not awarded");
                match s.code() {
                    Code::NotFound
                    | Code::InvalidArgument
                    | Code::FailedPrecondition
                    | Code::AlreadyExists
                    | Code::PermissionDenied => Goodwill::Refused,
                    _ => Goodwill::Later,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Calls `retry` with answers taken from `script` in turn; returns (result, calls made).
    async fn run(script: &[Code]) -> (Result<u32, Code>, u32) {
        let calls = AtomicU32::new(0);
        let res = retry(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let code = script[n as usize];
            async move {
                if code == Code::Ok {
                    Ok(n)
                } else {
                    Err(Status::new(code, "scripted"))
                }
            }
        })
        .await;
        (res.map_err(|s| s.code()), calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn unavailable_is_retried_once() {
        assert_eq!(run(&[Code::Unavailable, Code::Ok]).await, (Ok(1), 2));
        assert_eq!(
            run(&[Code::Unavailable, Code::Unavailable]).await,
            (Err(Code::Unavailable), 2)
        );
    }

    #[tokio::test]
    async fn other_answers_are_not_retried() {
        assert_eq!(run(&[Code::Ok]).await, (Ok(0), 1));
        for code in [
            Code::NotFound,
            Code::DeadlineExceeded,
            Code::InvalidArgument,
        ] {
            assert_eq!(run(&[code]).await, (Err(code), 1));
        }
    }

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
        assert_eq!(
            c.goodwill(id, 10, "x", uuid::Uuid::new_v4()).await,
            Goodwill::Later
        );
    }
}
