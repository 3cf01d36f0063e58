//! Calls to customers for the profiles cold start uses (questions only), on the platform's
//! client (deadlines, retry of read-only calls, trace propagation, this service's
//! credentials). Unconfigured (empty url): profiles keep what events told.
use crate::settings::ClientsSettings;
use crm_platform::client::{Remote, TracedChannel};
use crm_platform::config::PlatformSettings;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use std::time::Duration;

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
}
