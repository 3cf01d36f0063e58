//! `spawn_app()` and request builders shared by the tests.
#![allow(dead_code)]
use crm_platform::client::TracedChannel;
use crm_platform::testing::Backend;
use crm_proto::recommendations::recommendation_service_client::RecommendationServiceClient;

pub use crm_platform::testing::{Storage, assert_status, each_backend, rid, violations};

pub struct TestApp {
    pub client: RecommendationServiceClient<TracedChannel>,
    pub service: crm_recommendations::service::RecommendationService,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// The service with `configure` applied to its settings first.
pub async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut crm_recommendations::Settings),
) -> TestApp {
    let storage = Storage::fresh(backend).await;
    let app =
        crm_platform::testing::spawn::<crm_recommendations::Recommendations>(&storage, configure)
            .await;
    TestApp {
        client: RecommendationServiceClient::new(app.channel),
        service: app.service,
    }
}
