//! `spawn_app()` and request builders shared by the tests.
#![allow(dead_code)]
use crm_loyalty::Settings;
use crm_platform::client::TracedChannel;
use crm_platform::testing::Backend;
use crm_proto::loyalty as pb;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;

pub use crm_platform::testing::{Storage, assert_status, each_backend, rid, violations};

pub struct TestApp {
    pub client: LoyaltyServiceClient<TracedChannel>,
    pub port: u16,
    pub service: crm_loyalty::service::LoyaltyService,
    pub db_url: String,
    /// Where it keeps its state (its event streams are under this storage's prefix).
    pub storage: Storage,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let storage = Storage::fresh(backend).await;
    let app = crm_platform::testing::spawn::<crm_loyalty::Loyalty>(&storage, |s| {
        // Tests run expiry through the RPC or the service so results are deterministic.
        s.loyalty.expire_interval_secs = 0;
        tweak(s);
    })
    .await;
    TestApp {
        client: LoyaltyServiceClient::new(app.channel),
        port: app.port,
        service: app.service,
        db_url: storage.database_url.clone(),
        storage,
    }
}

/// Every backend, once with each write in its own transaction and once with group commit.
pub fn backends_with_and_without_group_commit() -> Vec<(Backend, bool)> {
    crm_platform::testing::backends()
        .into_iter()
        .flat_map(|b| [(b, false), (b, true)])
        .collect()
}

pub fn new_customer() -> String {
    format!("customers/{}", uuid::Uuid::now_v7())
}

pub fn money(currency: &str, amount_minor: i64) -> crm_proto::common::Money {
    crm_proto::common::Money {
        currency_code: currency.into(),
        amount_minor,
    }
}

/// A time on the wire (the platform's one conversion).
pub fn ts(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    crm_platform::validate::to_timestamp(t)
}

pub fn purchase_request(customer: &str, order_id: &str, amount_minor: i64) -> pb::EarnRequest {
    purchase_at(customer, order_id, amount_minor, None)
}

/// [`purchase_request`] of a purchase made at `at` (none: now).
pub fn purchase_at(
    customer: &str,
    order_id: &str,
    amount_minor: i64,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> pb::EarnRequest {
    pb::EarnRequest {
        customer: customer.into(),
        source: Some(pb::earn_request::Source::Purchase(pb::Purchase {
            order_id: order_id.into(),
            amount: Some(money("CNY", amount_minor)),
            items: vec![pb::PurchaseItem {
                item_id: "room-night".into(),
                quantity: 1,
                unit_price: None,
            }],
            purchase_time: at.map(ts),
        })),
        request_id: rid(),
        ..Default::default()
    }
}

impl TestApp {
    pub async fn purchase(
        &mut self,
        customer: &str,
        order_id: &str,
        amount_minor: i64,
    ) -> pb::EarnResponse {
        self.client
            .earn(purchase_request(customer, order_id, amount_minor))
            .await
            .expect("earn")
            .into_inner()
    }

    pub async fn adjust(
        &mut self,
        customer: &str,
        points: i64,
    ) -> Result<pb::AdjustResponse, tonic::Status> {
        self.client
            .adjust(pb::AdjustRequest {
                customer: customer.into(),
                points,
                reason: "test".into(),
                actor: "tester".into(),
                request_id: rid(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn redeem(
        &mut self,
        customer: &str,
        points: i64,
    ) -> Result<pb::RedeemResponse, tonic::Status> {
        self.client
            .redeem(pb::RedeemRequest {
                customer: customer.into(),
                points,
                request_id: rid(),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn balance(&mut self, customer: &str) -> pb::Balance {
        self.client
            .get_balance(pb::GetBalanceRequest {
                customer: customer.into(),
            })
            .await
            .expect("balance")
            .into_inner()
    }

    pub async fn tier(&mut self, customer: &str) -> pb::TierStatus {
        self.client
            .get_tier(pb::GetTierRequest {
                customer: customer.into(),
            })
            .await
            .expect("tier")
            .into_inner()
    }

    /// VerifyLedger over the whole ledger.
    pub async fn verify(&mut self) -> pb::VerifyLedgerResponse {
        self.client
            .verify_ledger(pb::VerifyLedgerRequest::default())
            .await
            .expect("verify")
            .into_inner()
    }

    /// Asserts VerifyLedger finds nothing wrong with the whole ledger.
    pub async fn assert_consistent(&mut self) -> pb::VerifyLedgerResponse {
        let v = self.verify().await;
        assert!(
            v.consistent,
            "ledger inconsistent: {:?}",
            v.first_inconsistency
        );
        v
    }
}
