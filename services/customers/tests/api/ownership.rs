//! A customer's own token (subject `customers/{id}`): its own profile only, and no method
//! that is not self-service.
use crate::harness::*;
use crm_platform::auth::{CUSTOMER_TOKEN_NOT_ALLOWED, NOT_OWN_RESOURCE};
use crm_platform::testing::Backend;
use crm_proto::customers as pb;
use tonic::Code;

#[tokio::test]
async fn a_customer_token_reads_its_own_profile_only() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let a = app.create(person("Ann", "ann@example.com")).await;
    let b = app.create(person("Bob", "bob@example.com")).await;
    let mut as_a = client_as(app.port, &a.name, &["customers.read"]).await;
    let own = as_a
        .get_customer(pb::GetCustomerRequest {
            name: a.name.clone(),
        })
        .await
        .expect("own profile")
        .into_inner();
    assert_eq!(own.name, a.name);
    let other = as_a
        .get_customer(pb::GetCustomerRequest {
            name: b.name.clone(),
        })
        .await
        .expect_err("another customer's profile");
    assert_status(&other, Code::PermissionDenied, NOT_OWN_RESOURCE);
    // A customer that does not exist is refused the same way: nothing is revealed.
    let missing = as_a
        .get_customer(pb::GetCustomerRequest {
            name: format!("customers/{}", uuid::Uuid::now_v7()),
        })
        .await
        .expect_err("a missing customer");
    assert_status(&missing, Code::PermissionDenied, NOT_OWN_RESOURCE);
    let list = as_a
        .list_customers(pb::ListCustomersRequest::default())
        .await
        .expect_err("not self-service");
    assert_status(&list, Code::PermissionDenied, CUSTOMER_TOKEN_NOT_ALLOWED);
}

#[tokio::test]
async fn a_merged_away_id_is_checked_as_asked_not_as_resolved() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let survivor = app.create(person("Sam", "sam@example.com")).await;
    let merged = app.create(person("Sam B", "samb@example.com")).await;
    app.client
        .merge_customers(pb::MergeCustomersRequest {
            survivor: survivor.name.clone(),
            merged: vec![merged.name.clone()],
            request_id: rid(),
            ..Default::default()
        })
        .await
        .expect("merge");
    // The survivor's token asking for the merged-away id: not the id it owns.
    let mut as_survivor = client_as(app.port, &survivor.name, &["customers.read"]).await;
    let err = as_survivor
        .get_customer(pb::GetCustomerRequest {
            name: merged.name.clone(),
        })
        .await
        .expect_err("the id asked is another customer's");
    assert_status(&err, Code::PermissionDenied, NOT_OWN_RESOURCE);
    // The merged-away customer's token still reaches its (resolved) profile.
    let mut as_merged = client_as(app.port, &merged.name, &["customers.read"]).await;
    let got = as_merged
        .get_customer(pb::GetCustomerRequest {
            name: merged.name.clone(),
        })
        .await
        .expect("its own id")
        .into_inner();
    assert_eq!(got.name, survivor.name, "resolved to the survivor");
}
