//! Manual ledger adjustments are recorded in their own transaction (with the caller's
//! identity), listed by `ListAccessRecords`, and kept after the customer's erasure.
use crate::harness::*;
use crm_platform::auth::MISSING_SCOPE;
use crm_platform::testing::{Backend, auth};
use crm_proto::audit as apb;
use crm_proto::events as ev;
use crm_proto::loyalty as pb;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use tonic::Code;

fn adjust(customer: &str, points: i64) -> pb::AdjustRequest {
    pb::AdjustRequest {
        customer: customer.into(),
        points,
        reason: "goodwill for a late delivery".into(),
        actor: "ops".into(),
        request_id: rid(),
    }
}

async fn records_of(app: &mut TestApp, customer: &str) -> Vec<apb::AccessRecord> {
    app.client
        .list_access_records(apb::ListAccessRecordsRequest {
            customer: customer.into(),
            ..Default::default()
        })
        .await
        .expect("list access records")
        .into_inner()
        .access_records
}

#[tokio::test]
async fn an_adjustment_is_recorded_with_its_caller_and_survives_erasure() {
    for (backend, group_commit) in backends_with_and_without_group_commit() {
        eprintln!("-- backend {backend:?}, group commit {group_commit}");
        let mut app = spawn_app_with(backend, |s| s.loyalty.group_commit = group_commit).await;
        let c = new_customer();
        let mut ops = LoyaltyServiceClient::new(
            auth::channel_as(app.port, "ops-7", &["loyalty.admin"]).await,
        );
        ops.adjust(adjust(&c, 30)).await.expect("adjust");
        // A refused adjustment (more than available) rolls back with its record.
        let err = ops
            .adjust(adjust(&c, -500))
            .await
            .expect_err("debit beyond available");
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        let records = records_of(&mut app, &c).await;
        assert_eq!(records.len(), 1, "{records:#?}");
        let r = &records[0];
        assert_eq!(r.subject, "ops-7");
        assert_eq!(r.method, "/crm.loyalty.v1.LoyaltyService/Adjust");
        assert_eq!((r.resource.as_str(), r.customer.as_str()), (&*c, &*c));
        assert_eq!(r.action, apb::AccessAction::Adjust as i32);
        assert_eq!(r.detail, "points=30");
        assert!(!format!("{r:?}").contains("late delivery"), "no free text");

        let db = sea_orm::Database::connect(app.db_url.as_str())
            .await
            .expect("db");
        let txn = crate::merge::writing(&db).await;
        let erased = ev::CustomerErased {
            customer: c.clone(),
            merged_customers: vec![],
            erase_time: None,
        };
        app.service
            .erase_customer_in(&txn, &erased, "erasure-1")
            .await
            .expect("erase");
        txn.commit().await.expect("commit");
        assert_eq!(
            records_of(&mut app, &c).await,
            records,
            "kept after erasure"
        );
    }
}

#[tokio::test]
async fn listing_needs_the_audit_scope_and_good_filters() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let mut ops =
        LoyaltyServiceClient::new(auth::channel_as(app.port, "ops-7", &["loyalty.admin"]).await);
    let err = ops
        .list_access_records(apb::ListAccessRecordsRequest::default())
        .await
        .expect_err("loyalty.audit is needed");
    assert_status(&err, Code::PermissionDenied, MISSING_SCOPE);
    let err = app
        .client
        .list_access_records(apb::ListAccessRecordsRequest {
            customer: "customers/not-a-uuid".into(),
            page_token: "forged".into(),
            ..Default::default()
        })
        .await
        .expect_err("bad customer");
    assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(violations(&err), ["customer"]);
}
