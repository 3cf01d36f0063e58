//! The access audit: reads, exports, erasures and merges of personal data are listed by
//! `ListAccessRecords` with the caller's identity, and outlive an erasure.
use crate::harness::*;
use crm_platform::auth::MISSING_SCOPE;
use crm_platform::testing::Backend;
use crm_proto::audit as apb;
use crm_proto::customers as pb;
use std::time::Duration;
use tonic::Code;

const GET: &str = "/crm.customers.v1.CustomerService/GetCustomer";

fn records_of(customer: &str) -> apb::ListAccessRecordsRequest {
    apb::ListAccessRecordsRequest {
        customer: customer.into(),
        page_size: 1000,
        ..Default::default()
    }
}

/// Lists with `req` until `done` holds (reads are written in batches), at most ~5 s.
async fn list_until(
    app: &mut TestApp,
    req: apb::ListAccessRecordsRequest,
    done: impl Fn(&[apb::AccessRecord]) -> bool,
) -> Vec<apb::AccessRecord> {
    let mut got = Vec::new();
    for _ in 0..50 {
        got = app
            .client
            .list_access_records(req.clone())
            .await
            .expect("list access records")
            .into_inner()
            .access_records;
        if done(&got) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("access records never matched: {got:#?}");
}

fn has(records: &[apb::AccessRecord], method: &str, action: apb::AccessAction) -> bool {
    records
        .iter()
        .any(|r| r.method.ends_with(method) && r.action == action as i32)
}

#[tokio::test]
async fn a_read_is_recorded_with_the_callers_identity() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Li Wei", "li.wei@example.com")).await;
        let before = chrono::Utc::now().timestamp() - 1;
        let mut agent = client_as(app.port, "agent-x", &["customers.read"]).await;
        agent
            .get_customer(pb::GetCustomerRequest {
                name: c.name.clone(),
            })
            .await
            .expect("get");
        let req = apb::ListAccessRecordsRequest {
            subject: "agent-x".into(),
            ..records_of(&c.name)
        };
        let records = list_until(&mut app, req, |r| !r.is_empty()).await;
        assert_eq!(records.len(), 1, "{records:#?}");
        let r = &records[0];
        assert_eq!(r.subject, "agent-x");
        assert_eq!(r.method, GET);
        assert_eq!(r.resource, c.name);
        assert_eq!(r.customer, c.name);
        assert_eq!(r.action, apb::AccessAction::Read as i32);
        assert_eq!(r.detail, "masked", "read without customers.pii.read");
        assert!(r.name.starts_with("accessRecords/"), "{}", r.name);
        let t = r.record_time.expect("time").seconds;
        assert!(
            (before..=chrono::Utc::now().timestamp() + 1).contains(&t),
            "{t}"
        );
    })
    .await;
}

#[tokio::test]
async fn export_merge_and_erase_are_recorded_and_survive_the_erasure() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Li Wei", "li.wei@example.com")).await;
        let twin = app.create(person("Wei Li", "li.wei@example.com")).await;
        app.get(&c.name).await.expect("get");
        let mut stream = app
            .client
            .export_customer(pb::ExportCustomerRequest {
                name: c.name.clone(),
            })
            .await
            .expect("export")
            .into_inner();
        while stream.message().await.expect("export message").is_some() {}
        app.client
            .merge_customers(pb::MergeCustomersRequest {
                survivor: c.name.clone(),
                merged: vec![twin.name.clone()],
                request_id: rid(),
                actor: "agent".into(),
                ..Default::default()
            })
            .await
            .expect("merge");
        app.client
            .erase_customer(pb::EraseCustomerRequest {
                name: c.name.clone(),
                request_id: rid(),
                actor: "dpo".into(),
            })
            .await
            .expect("erase");
        use apb::AccessAction as A;
        let records = list_until(&mut app, records_of(&c.name), |r| {
            has(r, "/GetCustomer", A::Read)
                && has(r, "/ExportCustomer", A::Export)
                && has(r, "/MergeCustomers", A::Merge)
                && has(r, "/EraseCustomer", A::Erase)
        })
        .await;
        let times: Vec<_> = records
            .iter()
            .map(|r| r.record_time.expect("time"))
            .map(|t| (t.seconds, t.nanos))
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
        // The merged-away customer: its merge, and its erasure with the survivor.
        let twin_records = list_until(&mut app, records_of(&twin.name), |r| {
            has(r, "/MergeCustomers", A::Merge) && has(r, "/EraseCustomer", A::Erase)
        })
        .await;
        // Nothing personal in any record.
        let all = format!("{records:?}{twin_records:?}");
        for personal in ["li.wei", "Li Wei", "Wei Li"] {
            assert!(!all.contains(personal), "{personal} in {all}");
        }
        let merge = records
            .iter()
            .find(|r| r.action == A::Merge as i32)
            .expect("merge record");
        assert_eq!(merge.detail, "merged=1");
        assert_eq!(merge.subject, auth_subject());
    })
    .await;
}

fn auth_subject() -> String {
    crm_platform::testing::auth::SUBJECT.to_owned()
}

#[tokio::test]
async fn listing_needs_the_audit_scope() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut agent = client_as(app.port, "agent-x", &["customers.read", "customers.admin"]).await;
    let err = agent
        .list_access_records(apb::ListAccessRecordsRequest::default())
        .await
        .expect_err("customers.audit is needed");
    assert_status(&err, Code::PermissionDenied, MISSING_SCOPE);
}

#[tokio::test]
async fn bad_filters_are_named() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let err = app
        .client
        .list_access_records(apb::ListAccessRecordsRequest {
            customer: "tickets/1".into(),
            subject: "bad\u{202e}subject".into(),
            start_time: Some(prost_types::Timestamp {
                seconds: 2_000,
                nanos: 0,
            }),
            end_time: Some(prost_types::Timestamp {
                seconds: 1_000,
                nanos: 0,
            }),
            page_size: -1,
            ..Default::default()
        })
        .await
        .expect_err("bad filters");
    assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
    assert_eq!(
        violations(&err),
        ["customer", "end_time", "page_size", "subject"]
    );
}

#[tokio::test]
async fn pages_continue_only_with_their_own_untampered_token() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let c = app.create(person("Li Wei", "li.wei@example.com")).await;
    for _ in 0..3 {
        app.get(&c.name).await.expect("get");
    }
    let all = list_until(&mut app, records_of(&c.name), |r| r.len() >= 4).await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_access_records(apb::ListAccessRecordsRequest {
                page_size: 1,
                page_token: token.clone(),
                ..records_of(&c.name)
            })
            .await
            .expect("page")
            .into_inner();
        seen.extend(page.access_records);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, all, "one record per page, in order, none twice");
    let first = app
        .client
        .list_access_records(apb::ListAccessRecordsRequest {
            page_size: 1,
            ..records_of(&c.name)
        })
        .await
        .expect("page")
        .into_inner();
    let mut tampered = first.next_page_token.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let err = app
        .client
        .list_access_records(apb::ListAccessRecordsRequest {
            page_size: 1,
            page_token: String::from_utf8(tampered).expect("ascii"),
            ..records_of(&c.name)
        })
        .await
        .expect_err("tampered token");
    assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
    let err = app
        .client
        .list_access_records(apb::ListAccessRecordsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            subject: "someone-else".into(),
            ..records_of(&c.name)
        })
        .await
        .expect_err("another query's token");
    assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
}
