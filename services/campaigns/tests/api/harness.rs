//! `spawn_app()` and request builders shared by the tests.
#![allow(dead_code)]
use crm_platform::client::TracedChannel;
use crm_platform::testing::Backend;
use crm_proto::campaigns::campaign_service_client::CampaignServiceClient;

pub use crm_platform::testing::{Storage, assert_status, each_backend, rid, violations};

pub struct TestApp {
    pub client: CampaignServiceClient<TracedChannel>,
    pub service: crm_campaigns::service::CampaignService,
    pub storage: Storage,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// The app with its settings changed by `configure` first.
pub async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut crm_campaigns::Settings),
) -> TestApp {
    let storage = Storage::fresh(backend).await;
    let app = crm_platform::testing::spawn::<crm_campaigns::Campaigns>(&storage, configure).await;
    TestApp {
        client: CampaignServiceClient::new(app.channel),
        service: app.service,
        storage,
    }
}
