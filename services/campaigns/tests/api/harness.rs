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

use crm_proto::campaigns as pb;

/// A saved segment (gold customers): campaigns only need it to exist.
pub async fn any_segment(app: &mut TestApp) -> String {
    let gold = pb::Rule {
        node: Some(pb::rule::Node::Condition(pb::Condition {
            condition: Some(pb::condition::Condition::Tier(pb::ValueIn {
                values: vec!["gold".into()],
            })),
        })),
    };
    app.client
        .create_segment(pb::CreateSegmentRequest {
            segment: Some(pb::Segment {
                display_name: "everyone gold".into(),
                rule: Some(gold),
                ..Default::default()
            }),
            request_id: rid(),
        })
        .await
        .expect("segment")
        .into_inner()
        .name
}

/// A valid marketing e-mail campaign to `segment`, sent immediately.
pub fn email_campaign(segment: &str) -> pb::Campaign {
    pb::Campaign {
        display_name: "Winter sale".into(),
        goal: Some(pb::Goal {
            kind: pb::goal::Kind::Purchase as i32,
            window_days: 7,
        }),
        segment: segment.into(),
        channel: pb::Channel::Email as i32,
        variants: vec![pb::Variant {
            id: "a".into(),
            weight: 1,
            subject: "Hello {{ customer.given_name }}".into(),
            body: "Your tier: {{ loyalty.tier }}. Code {{ coupon_code }}".into(),
            ..Default::default()
        }],
        schedule: Some(pb::Schedule {
            when: Some(pb::schedule::When::Immediately(true)),
        }),
        coupon_code: "WINTER10".into(),
        ..Default::default()
    }
}

impl TestApp {
    pub async fn campaign(&mut self, name: &str) -> pb::Campaign {
        self.client
            .get_campaign(pb::GetCampaignRequest { name: name.into() })
            .await
            .expect("get campaign")
            .into_inner()
    }

    pub async fn create_campaign(&mut self, c: pb::Campaign) -> pb::Campaign {
        self.client
            .create_campaign(pb::CreateCampaignRequest {
                campaign: Some(c),
                request_id: rid(),
            })
            .await
            .expect("create campaign")
            .into_inner()
    }
}
