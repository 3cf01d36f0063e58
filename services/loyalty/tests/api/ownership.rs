//! A customer's own token (subject `customers/{id}`): its own balance, statement and tier
//! only, and no method that moves points.
use crate::harness::*;
use crm_platform::auth::{CUSTOMER_TOKEN_NOT_ALLOWED, NOT_OWN_RESOURCE};
use crm_platform::testing::{Backend, auth};
use crm_proto::loyalty as pb;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use tonic::Code;

fn ok<T>(answer: Result<T, tonic::Status>) -> Result<(), tonic::Status> {
    answer.map(|_| ())
}

/// Every self-service read of `customer` through `client`, each answer's status or `Ok`.
async fn self_service_reads(
    client: &mut LoyaltyServiceClient<crm_platform::client::TracedChannel>,
    customer: &str,
) -> Vec<(&'static str, Result<(), tonic::Status>)> {
    let c = || customer.to_owned();
    vec![
        (
            "GetBalance",
            ok(client
                .get_balance(pb::GetBalanceRequest { customer: c() })
                .await),
        ),
        (
            "GetBalanceAt",
            ok(client
                .get_balance_at(pb::GetBalanceAtRequest {
                    customer: c(),
                    time: Some(ts(chrono::Utc::now() - chrono::Duration::seconds(1))),
                })
                .await),
        ),
        (
            "ListTransactions",
            ok(client
                .list_transactions(pb::ListTransactionsRequest {
                    customer: c(),
                    ..Default::default()
                })
                .await),
        ),
        (
            "GetTier",
            ok(client.get_tier(pb::GetTierRequest { customer: c() }).await),
        ),
        (
            "ListTierHistory",
            ok(client
                .list_tier_history(pb::ListTierHistoryRequest {
                    customer: c(),
                    ..Default::default()
                })
                .await),
        ),
    ]
}

#[tokio::test]
async fn a_customer_token_reads_its_own_account_only() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let a = new_customer();
    let b = new_customer();
    app.purchase(&a, "order-a", 10_000).await;
    app.purchase(&b, "order-b", 10_000).await;
    let mut as_a =
        LoyaltyServiceClient::new(auth::channel_as(app.port, &a, &["loyalty.read"]).await);
    for (method, answer) in self_service_reads(&mut as_a, &a).await {
        answer.unwrap_or_else(|e| panic!("{method} of its own account: {e:?}"));
    }
    for (method, answer) in self_service_reads(&mut as_a, &b).await {
        let err = answer.expect_err(method);
        assert_status(&err, Code::PermissionDenied, NOT_OWN_RESOURCE);
    }
    let balance = as_a
        .get_balance(pb::GetBalanceRequest {
            customer: a.clone(),
        })
        .await
        .expect("balance")
        .into_inner();
    assert_eq!(balance.customer, a);
    assert!(balance.available + balance.pending > 0, "{balance:?}");
}

#[tokio::test]
async fn a_customer_token_cannot_move_points_even_with_the_scope() {
    let app = spawn_app(Backend::Sqlite).await;
    let a = new_customer();
    let mut as_a = LoyaltyServiceClient::new(
        auth::channel_as(app.port, &a, &["loyalty.read", "loyalty.write"]).await,
    );
    let err = as_a
        .earn(purchase_request(&a, "self-award", 1_000_000))
        .await
        .expect_err("not self-service");
    assert_status(&err, Code::PermissionDenied, CUSTOMER_TOKEN_NOT_ALLOWED);
}
