//! Calls to customers and loyalty for the read model's refresh and rebuild (questions only:
//! profiles, insights, balances, tiers, the customers listing), on the platform's client
//! (deadlines, retry of read-only calls, trace propagation, this service's credentials).
//! An unconfigured service (empty url) is skipped: its part of the read model stays as the
//! events left it.
use crate::domain::CustomerId;
use crate::domain::member::{LoyaltyFacts, TicketFact};
use crate::settings::ClientsSettings;
use crm_platform::client::{Idempotence, Remote, TracedChannel};
use crm_platform::config::PlatformSettings;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use crm_proto::tickets::ticket_service_client::TicketServiceClient;
use crm_proto::{customers as cpb, loyalty as lpb, tickets as tpb};
use std::time::Duration;
use tonic::{Code, Status};

/// What customers answered about one customer.
#[derive(Debug, Clone)]
pub enum CustomerAnswer {
    /// The record (the survivor's when the customer was merged away).
    Found(Box<cpb::Customer>),
    /// Erased (the CUSTOMER_ERASED reason): the member is dropped.
    Erased,
    /// Deleted or unknown: nothing to refresh until an event says otherwise.
    Gone,
    /// The call failed: retried later.
    Failed,
}

#[derive(Clone, Default)]
pub struct Clients {
    customers: Option<Remote<CustomerServiceClient<TracedChannel>>>,
    loyalty: Option<Remote<LoyaltyServiceClient<TracedChannel>>>,
    tickets: Option<Remote<TicketServiceClient<TracedChannel>>>,
}

/// A client of the service at `url`; none when the url is empty (not configured).
fn remote<C: Clone>(
    url: &str,
    s: &ClientsSettings,
    platform: &PlatformSettings,
    make: impl FnOnce(TracedChannel) -> C,
) -> anyhow::Result<Option<Remote<C>>> {
    Remote::configured(url, Duration::from_millis(s.timeout_ms), platform, make)
}

fn logged_failure(what: &'static str, s: &Status) {
    tracing::warn!(code = ?s.code(), reason = ?crm_platform::grpc::reason_of(s), call = what, "read model refresh call failed");
}

/// Whether a refused customer is gone for good (erased, deleted or unknown) rather than the
/// call having failed.
fn gone(s: &Status) -> bool {
    matches!(
        crm_platform::grpc::reason_of(s).as_deref(),
        Some("CUSTOMER_ERASED" | "CUSTOMER_DELETED")
    ) || s.code() == Code::NotFound
}

impl Clients {
    /// Lazy clients of the configured services (nothing is dialled until the first call),
    /// calling as this service (`platform`'s `[auth.client]` credentials).
    pub fn new(s: &ClientsSettings, platform: &PlatformSettings) -> anyhow::Result<Self> {
        Ok(Self {
            customers: remote(&s.customers_url, s, platform, CustomerServiceClient::new)?,
            loyalty: remote(&s.loyalty_url, s, platform, LoyaltyServiceClient::new)?,
            tickets: remote(&s.tickets_url, s, platform, TicketServiceClient::new)?,
        })
    }

    pub fn customers_configured(&self) -> bool {
        self.customers.is_some()
    }

    pub fn loyalty_configured(&self) -> bool {
        self.loyalty.is_some()
    }

    pub fn tickets_configured(&self) -> bool {
        self.tickets.is_some()
    }

    /// The customers of `ids`, in order: one BatchGetCustomers, or (when it refuses the
    /// batch, e.g. for one erased customer) one call per customer.
    pub async fn customers(&self, ids: &[CustomerId]) -> Vec<CustomerAnswer> {
        let Some(client) = &self.customers else {
            return vec![CustomerAnswer::Failed; ids.len()];
        };
        let batch = |names: Vec<String>| async move {
            client
                .call(
                    Idempotence::ReadOnly,
                    cpb::BatchGetCustomersRequest { names },
                    |mut c, req| async move { c.batch_get_customers(req).await },
                )
                .await
        };
        match batch(ids.iter().map(CustomerId::name).collect()).await {
            Ok(res) if res.customers.len() == ids.len() => {
                return res
                    .customers
                    .into_iter()
                    .map(|c| CustomerAnswer::Found(Box::new(c)))
                    .collect();
            }
            Ok(res) => {
                tracing::warn!(
                    asked = ids.len(),
                    answered = res.customers.len(),
                    "customers answered a batch with another number of customers"
                );
            }
            Err(s) if ids.len() > 1 && gone(&s) => {}
            Err(s) => {
                logged_failure("BatchGetCustomers", &s);
                return vec![CustomerAnswer::Failed; ids.len()];
            }
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(match batch(vec![id.name()]).await {
                Ok(mut res) if res.customers.len() == 1 => {
                    CustomerAnswer::Found(Box::new(res.customers.remove(0)))
                }
                Ok(_) => CustomerAnswer::Failed,
                Err(s)
                    if crm_platform::grpc::reason_of(&s).as_deref() == Some("CUSTOMER_ERASED") =>
                {
                    CustomerAnswer::Erased
                }
                Err(s) if gone(&s) => CustomerAnswer::Gone,
                Err(s) => {
                    logged_failure("BatchGetCustomers", &s);
                    CustomerAnswer::Failed
                }
            });
        }
        out
    }

    /// The customer's RFM segment from customers' insights; None when not configured or the
    /// call failed.
    pub async fn rfm_segment(&self, id: CustomerId) -> Option<String> {
        let client = self.customers.as_ref()?;
        let req = cpb::GetCustomerInsightsRequest { name: id.name() };
        match client
            .call(Idempotence::ReadOnly, req, |mut c, req| async move {
                c.get_customer_insights(req).await
            })
            .await
        {
            Ok(i) => Some(i.segment),
            Err(s) => {
                logged_failure("GetCustomerInsights", &s);
                None
            }
        }
    }

    /// The customer's available points and tier; None when not configured or a call failed.
    pub async fn loyalty(&self, id: CustomerId) -> Option<LoyaltyFacts> {
        let client = self.loyalty.as_ref()?;
        let balance = client
            .call(
                Idempotence::ReadOnly,
                lpb::GetBalanceRequest {
                    customer: id.name(),
                },
                |mut c, req| async move { c.get_balance(req).await },
            )
            .await
            .inspect_err(|s| logged_failure("GetBalance", s))
            .ok()?;
        let tier = client
            .call(
                Idempotence::ReadOnly,
                lpb::GetTierRequest {
                    customer: id.name(),
                },
                |mut c, req| async move { c.get_tier(req).await },
            )
            .await
            .inspect_err(|s| logged_failure("GetTier", s))
            .ok()?;
        Some(LoyaltyFacts {
            tier: tier.tier,
            available_points: balance.available,
        })
    }

    /// One page of customers' listing (live customers): their ids and the next page's
    /// token (empty on the last page).
    pub async fn list_customers(
        &self,
        page_token: &str,
        page_size: i32,
    ) -> Result<(Vec<CustomerId>, String), Status> {
        let Some(client) = &self.customers else {
            return Err(Status::failed_precondition(
                "campaigns.clients.customers_url is not configured",
            ));
        };
        let req = cpb::ListCustomersRequest {
            page_size,
            page_token: page_token.to_owned(),
            ..Default::default()
        };
        let res = client
            .call(Idempotence::ReadOnly, req, |mut c, req| async move {
                c.list_customers(req).await
            })
            .await?;
        let ids = res
            .customers
            .iter()
            .filter_map(|c| CustomerId::parse_name(&c.name).ok())
            .collect();
        Ok((ids, res.next_page_token))
    }

    /// One page of tickets' complaints (every status), as the read model keeps them, and the
    /// next page's token (empty on the last page).
    pub async fn complaint_tickets(
        &self,
        page_token: &str,
        page_size: i32,
    ) -> Result<(Vec<TicketFact>, String), Status> {
        let Some(client) = &self.tickets else {
            return Err(Status::failed_precondition(
                "campaigns.clients.tickets_url is not configured",
            ));
        };
        let req = tpb::ListTicketsRequest {
            page_size,
            page_token: page_token.to_owned(),
            category: tpb::Category::Complaint as i32,
            ..Default::default()
        };
        let res = client
            .call(Idempotence::ReadOnly, req, |mut c, req| async move {
                c.list_tickets(req).await
            })
            .await?;
        let facts = res.tickets.iter().filter_map(complaint).collect();
        Ok((facts, res.next_page_token))
    }
}

/// A listed complaint ticket as the read model keeps it; None when a name does not parse.
fn complaint(t: &tpb::Ticket) -> Option<TicketFact> {
    let ticket = t
        .name
        .rsplit_once('/')
        .and_then(|(_, id)| uuid::Uuid::parse_str(id).ok())?;
    let at = t.update_time.as_ref()?;
    Some(TicketFact {
        ticket,
        customer: CustomerId::parse_name(&t.customer).ok()?,
        category: Some(t.category),
        open: crate::service::read_model::handlers::is_open(t.status),
        time: chrono::DateTime::from_timestamp(at.seconds, u32::try_from(at.nanos).ok()?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unconfigured_services_answer_without_calling() {
        let c = Clients::default();
        let id = CustomerId::generate();
        assert!(!c.customers_configured() && !c.loyalty_configured());
        assert!(matches!(
            &c.customers(&[id]).await[..],
            [CustomerAnswer::Failed]
        ));
        assert_eq!(c.rfm_segment(id).await, None);
        assert_eq!(c.loyalty(id).await, None);
        assert!(c.list_customers("", 10).await.is_err());
    }
}
