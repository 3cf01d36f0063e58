//! Personal values without `customers.pii.read`: masked in every answer that carries a
//! customer, in clear with the scope, to the customer's own token, and with auth off.
use crate::harness::*;
use crm_customers::grpc::policy::PII_READ;
use crm_platform::auth::MISSING_SCOPE;
use crm_platform::testing::Backend;
use crm_proto::common as cpb;
use crm_proto::customers as pb;
use tonic::Code;

const READ: &str = "customers.read";

fn fixture() -> pb::Customer {
    pb::Customer {
        display_name: "Li Wei".into(),
        given_name: "Wei".into(),
        family_name: "Li".into(),
        primary_email: "li.wei@example.com".into(),
        additional_emails: vec!["wei@work.example.cn".into()],
        phones: vec!["+8613800138000".into()],
        birth_date: Some(cpb::Date {
            year: 1990,
            month: 5,
            day: 1,
        }),
        addresses: vec![cpb::PostalAddress {
            label: "home".into(),
            address_lines: vec!["No. 1 Jianguo Road".into()],
            locality: "Beijing".into(),
            postal_code: "100000".into(),
            region_code: "CN".into(),
            recipient: "Li Wei".into(),
            ..Default::default()
        }],
        important_dates: vec![pb::ImportantDate {
            kind: "wedding_anniversary".into(),
            date: Some(cpb::Date {
                year: 2015,
                month: 10,
                day: 1,
            }),
        }],
        attributes: Some(prost_types::Struct {
            fields: [(
                "room".to_owned(),
                prost_types::Value {
                    kind: Some(prost_types::value::Kind::StringValue("sea view".into())),
                },
            )]
            .into_iter()
            .collect(),
        }),
        tags: vec!["vip".into()],
        ..Default::default()
    }
}

/// Every personal field of `c` masked, everything else as in `clear`.
fn assert_masked(c: &pb::Customer, clear: &pb::Customer) {
    assert_eq!(c.display_name, "L*****");
    assert_eq!(c.given_name, "W**");
    assert_eq!(c.family_name, "L*");
    assert_eq!(c.primary_email, "l***@example.com");
    assert_eq!(c.additional_emails, ["w***@work.example.cn"]);
    assert_eq!(c.phones, ["+86 138****8000"]);
    assert_eq!(c.birth_date, None);
    assert!(c.important_dates.is_empty(), "{:?}", c.important_dates);
    assert_eq!(c.attributes, None);
    let a = &c.addresses[0];
    assert_eq!(a.address_lines, ["***"]);
    assert_eq!(a.postal_code, "***");
    assert_eq!(a.recipient, "L*****");
    assert_eq!(
        (a.locality.as_str(), a.region_code.as_str()),
        ("Beijing", "CN")
    );
    assert_eq!(
        (&c.name, &c.tags, &c.etag, c.state),
        (&clear.name, &clear.tags, &clear.etag, clear.state),
        "the rest is not masked"
    );
}

fn assert_clear(c: &pb::Customer, clear: &pb::Customer) {
    assert_eq!(c, clear);
    assert_eq!(c.primary_email, "li.wei@example.com");
    assert_eq!(c.phones, ["+8613800138000"]);
}

#[tokio::test]
async fn reads_without_the_scope_are_masked_per_field() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let clear = app.create(fixture()).await;
        assert_clear(&clear, &app.get(&clear.name).await.expect("get"));
        let mut agent = client_as(app.port, "agent-1", &[READ]).await;
        let get = agent
            .get_customer(pb::GetCustomerRequest {
                name: clear.name.clone(),
            })
            .await
            .expect("get")
            .into_inner();
        assert_masked(&get, &clear);
        let batch = agent
            .batch_get_customers(pb::BatchGetCustomersRequest {
                names: vec![clear.name.clone()],
            })
            .await
            .expect("batch")
            .into_inner();
        assert_masked(&batch.customers[0], &clear);
        let list = agent
            .list_customers(pb::ListCustomersRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert_masked(&list.customers[0], &clear);
        let search = agent
            .search_customers(pb::SearchCustomersRequest {
                query: Some(pb::search_customers_request::Query::Email(
                    "li.wei@example.com".into(),
                )),
                ..Default::default()
            })
            .await
            .expect("search")
            .into_inner();
        assert_eq!(search.customers.len(), 1, "exact search still finds it");
        assert_masked(&search.customers[0], &clear);
    })
    .await;
}

#[tokio::test]
async fn the_scope_and_the_customers_own_token_read_in_clear() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let clear = app.create(fixture()).await;
    let mut agent = client_as(app.port, "agent-1", &[READ, PII_READ]).await;
    let got = agent
        .get_customer(pb::GetCustomerRequest {
            name: clear.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_clear(&got, &clear);
    let mut own = client_as(app.port, &clear.name, &[READ]).await;
    let got = own
        .get_customer(pb::GetCustomerRequest {
            name: clear.name.clone(),
        })
        .await
        .expect("own profile")
        .into_inner();
    assert_clear(&got, &clear);
}

#[tokio::test]
async fn writes_and_duplicates_answer_masked_without_the_scope() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let writer = ["customers.write", "customers.admin", READ];
    let mut clerk = client_as(app.port, "clerk-1", &writer).await;
    let created = clerk
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(fixture()),
            request_id: rid(),
        })
        .await
        .expect("create")
        .into_inner();
    let clear = app.get(&created.name).await.expect("get");
    assert_masked(&created, &clear);
    let mut patch = clear.clone();
    patch.time_zone = "Asia/Shanghai".into();
    let updated = clerk
        .update_customer(pb::UpdateCustomerRequest {
            customer: Some(patch),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["time_zone".into()],
            }),
            request_id: rid(),
        })
        .await
        .expect("update")
        .into_inner();
    let clear = app.get(&created.name).await.expect("get");
    assert_masked(&updated, &clear);
    // A second record with the same e-mail is a duplicate candidate, shown masked.
    let mut twin = fixture();
    twin.phones.clear();
    let twin = app.create(twin).await;
    let dupes = clerk
        .find_duplicates(pb::FindDuplicatesRequest {
            name: twin.name.clone(),
            ..Default::default()
        })
        .await
        .expect("duplicates")
        .into_inner();
    let candidate = dupes.candidates[0].customer.as_ref().expect("customer");
    assert_eq!(candidate.name, clear.name);
    assert_masked(candidate, &clear);
    let merged = clerk
        .merge_customers(pb::MergeCustomersRequest {
            survivor: clear.name.clone(),
            merged: vec![twin.name.clone()],
            request_id: rid(),
            ..Default::default()
        })
        .await
        .expect("merge")
        .into_inner();
    let survivor = merged.survivor.expect("survivor");
    assert_masked(&survivor, &app.get(&clear.name).await.expect("get"));
}

#[tokio::test]
async fn export_needs_its_own_scope_and_is_in_clear() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let clear = app.create(fixture()).await;
    let mut reader = client_as(app.port, "agent-1", &[READ, PII_READ]).await;
    let err = reader
        .export_customer(pb::ExportCustomerRequest {
            name: clear.name.clone(),
        })
        .await
        .expect_err("export needs customers.export");
    assert_status(&err, Code::PermissionDenied, MISSING_SCOPE);
    let mut dpo = client_as(app.port, "dpo-1", &["customers.export"]).await;
    let mut stream = dpo
        .export_customer(pb::ExportCustomerRequest {
            name: clear.name.clone(),
        })
        .await
        .expect("export")
        .into_inner();
    let first = stream.message().await.expect("first").expect("message");
    assert_clear(first.customer.as_ref().expect("customer"), &clear);
}

#[tokio::test]
async fn with_authentication_off_everything_is_in_clear() {
    let storage = Storage::fresh(Backend::Sqlite).await;
    let mut app = spawn_app_with(storage, |s| {
        s.platform.auth.mode = crm_platform::auth::AuthMode::Off;
    })
    .await;
    let clear = app.create(fixture()).await;
    let mut anonymous = pb::customer_service_client::CustomerServiceClient::new(
        crm_platform::testing::channel(app.port).await,
    );
    let got = anonymous
        .get_customer(pb::GetCustomerRequest {
            name: clear.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_clear(&got, &clear);
}

#[tokio::test]
async fn activity_text_is_masked_without_the_scope() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(fixture()).await;
        let review = pb::Activity {
            kind: pb::ActivityKind::Review as i32,
            rating: 4,
            text: "call me on +8613800138000".into(),
            reference: "order li.wei".into(),
            occur_time: Some(prost_types::Timestamp {
                seconds: chrono::Utc::now().timestamp() - 60,
                nanos: 0,
            }),
            ..Default::default()
        };
        let clear = app
            .client
            .record_activity(pb::RecordActivityRequest {
                parent: c.name.clone(),
                activity: Some(review),
                request_id: crm_platform::testing::rid(),
            })
            .await
            .expect("record")
            .into_inner();
        assert_eq!(clear.text, "call me on +8613800138000");
        let mut agent = client_as(app.port, "agent-1", &[READ]).await;
        let listed = agent
            .list_activities(pb::ListActivitiesRequest {
                parent: c.name.clone(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        let a = &listed.activities[0];
        assert_eq!((a.text.as_str(), a.reference.as_str()), ("***", "***"));
        assert_eq!(
            (a.kind, a.rating, &a.name),
            (clear.kind, clear.rating, &clear.name)
        );
        let full = app
            .client
            .list_activities(pb::ListActivitiesRequest {
                parent: c.name.clone(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        assert_eq!(full.activities[0].text, clear.text);
    })
    .await;
}
