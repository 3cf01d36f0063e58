//! Log and trace hygiene: a journey of one fixture person through the API, and its error
//! paths, with every event and span of the process captured at TRACE level. Neither the
//! fixture's e-mail (any case), its phone (E.164 or national form) nor its family name may
//! appear in what was captured, nor in any error the API returned (message and details).
//!
//! Its own test binary: the subscriber is process-global, and the servers run on spawned
//! tasks that a thread-local default would not reach.
#[path = "api/harness.rs"]
#[allow(dead_code, unused_imports)]
mod harness;

use crm_platform::testing::Backend;
use crm_proto::customers as pb;
use harness::*;
use pb::search_customers_request::Query;
use std::sync::{Arc, Mutex, OnceLock};
use tonic::Code;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

const EMAIL: &str = "Li.Wei.Fixture@Example.com";
const PHONE: &str = "+86 138 1234 8000";
/// What must never show: the e-mail's local part (lower-cased text is searched), the phone's
/// digits after the country code (inside E.164 and the national form), both spaced forms, and
/// the family name.
const FORBIDDEN: &[&str] = &[
    "lifixture",
    "li.wei.fixture",
    "13812348000",
    "138 1234 8000",
    "138-1234-8000",
    "8613812348000",
];

/// Everything recorded: span names and fields, event messages and fields, one line each.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Captured {
    fn push(&self, line: String) {
        if let Ok(mut all) = self.0.lock() {
            all.push_str(&line);
            all.push('\n');
        }
    }
    fn text(&self) -> String {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        let m = attrs.metadata();
        let mut line = format!("span {} {}", m.target(), m.name());
        attrs.record(&mut Fields(&mut line));
        self.push(line);
    }

    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: Context<'_, S>,
    ) {
        let mut line = "record".to_owned();
        values.record(&mut Fields(&mut line));
        self.push(line);
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let m = event.metadata();
        let mut line = format!("event {} {} {}", m.level(), m.target(), m.name());
        event.record(&mut Fields(&mut line));
        self.push(line);
    }
}

/// The process's one capture, installed (with `log` records bridged) on first use.
fn captured() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let c = Captured::default();
            tracing_subscriber::registry()
                .with(c.clone())
                .try_init()
                .expect("the only subscriber of this test binary");
            c
        })
        .clone()
}

/// Where a forbidden string shows in `text`, lower-cased, with the line it is on.
fn leaks(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .lines()
        .filter(|l| FORBIDDEN.iter().any(|f| l.contains(f)))
        .map(|l| l.chars().take(600).collect())
        .collect()
}

/// Collects errors the API returned, to check their message and details too.
#[derive(Default)]
struct Errors(Vec<String>);

impl Errors {
    fn status(&mut self, s: &tonic::Status) {
        self.0.push(format!(
            "status {:?} {} details={}",
            s.code(),
            s.message(),
            String::from_utf8_lossy(s.details())
        ));
        for kv in s.metadata().iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(k, v) = kv {
                self.0.push(format!("metadata {k}={v:?}"));
            }
        }
    }
    fn text(&mut self, t: impl Into<String>) {
        self.0.push(t.into());
    }
}

fn fixture() -> pb::Customer {
    pb::Customer {
        display_name: "Wei Lifixture".into(),
        given_name: "Wei".into(),
        family_name: "Lifixture".into(),
        birth_date: Some(crm_proto::common::Date {
            year: 1990,
            month: 3,
            day: 14,
        }),
        primary_email: EMAIL.into(),
        phones: vec![PHONE.into()],
        external_id: "pii-fixture-1".into(),
        ..Default::default()
    }
}

/// Expects `r` to fail with `code`, recording the error.
#[track_caller]
fn refused<T: std::fmt::Debug>(errors: &mut Errors, r: Result<T, tonic::Status>, code: Code) {
    let s = r.expect_err("refused");
    assert_eq!(s.code(), code, "{s:?}");
    errors.status(&s);
}

async fn journey(backend: Backend, errors: &mut Errors) {
    let mut app = spawn_app(backend).await;
    let created = app.create(fixture()).await;
    assert_eq!(created.primary_email, EMAIL.to_lowercase());
    assert_eq!(
        leaks(&format!("{created:?}")).len(),
        1,
        "the detector finds the fixture where it belongs"
    );
    let got = app.get(&created.name).await.expect("get");
    assert_eq!(got.phones, ["+8613812348000"]);
    app.update(
        pb::Customer {
            name: created.name.clone(),
            additional_emails: vec!["Li.Wei.Fixture@Work.example".into()],
            phones: vec![PHONE.into(), "+86 138 1234 8001".into()],
            ..Default::default()
        },
        &["additional_emails", "phones"],
    )
    .await
    .expect("update");

    for q in [
        Query::Email(EMAIL.to_uppercase()),
        Query::Phone(PHONE.into()),
        Query::Phone("+8613812348000".into()),
        Query::NamePrefix("lifix".into()),
    ] {
        let found = app
            .client
            .search_customers(pb::SearchCustomersRequest {
                query: Some(q),
                page_size: 10,
                page_token: String::new(),
            })
            .await
            .expect("search")
            .into_inner();
        assert_eq!(found.customers.len(), 1);
    }

    // A second record of the same person: a duplicate candidate, and an import that
    // upserts the first by e-mail.
    let twin = app
        .create(pb::Customer {
            external_id: "pii-fixture-2".into(),
            primary_email: "other.fixture@example.org".into(),
            additional_emails: vec![EMAIL.into()],
            ..fixture()
        })
        .await;
    let dups = app
        .client
        .find_duplicates(pb::FindDuplicatesRequest {
            name: created.name.clone(),
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .expect("duplicates")
        .into_inner();
    assert_eq!(dups.candidates.len(), 1, "{dups:?}");
    let imported = app
        .import(
            &rid(),
            vec![
                pb::Customer {
                    external_id: String::new(),
                    ..fixture()
                },
                pb::Customer {
                    external_id: "pii-fixture-3".into(),
                    primary_email: format!("{EMAIL}@"),
                    phones: vec![format!("{PHONE} x")],
                    ..fixture()
                },
                pb::Customer {
                    external_id: "pii-fixture-1".into(),
                    ..fixture()
                },
            ],
        )
        .await;
    assert_eq!(imported.failed_count, 1, "{imported:?}");
    for row in &imported.results {
        errors.text(format!("import row {}: {}", row.row, row.errors.join("; ")));
    }

    // Error paths that carry the personal values.
    let create = |c: pb::Customer| pb::CreateCustomerRequest {
        customer: Some(c),
        request_id: rid(),
    };
    for bad in [
        pb::Customer {
            primary_email: format!("{EMAIL}.."),
            external_id: String::new(),
            ..fixture()
        },
        pb::Customer {
            primary_email: format!("{} {EMAIL}", "x"),
            external_id: String::new(),
            ..fixture()
        },
        pb::Customer {
            phones: vec![format!("{PHONE}9")],
            external_id: String::new(),
            ..fixture()
        },
        pb::Customer {
            phones: vec!["13812348000".into()],
            external_id: String::new(),
            ..fixture()
        },
        pb::Customer {
            primary_email: format!("{}{EMAIL}", "a".repeat(300)),
            additional_emails: vec![format!("{EMAIL}\0")],
            external_id: String::new(),
            ..fixture()
        },
        pb::Customer {
            display_name: format!("{EMAIL} {}", "x".repeat(500)),
            family_name: format!("Lifixture{}", "\u{202E}"),
            addresses: vec![crm_proto::common::PostalAddress {
                region_code: "CN".into(),
                address_lines: vec![format!("{PHONE} {}", "x".repeat(5000))],
                recipient: format!("{EMAIL}\u{202E}"),
                ..Default::default()
            }],
            external_id: String::new(),
            ..fixture()
        },
        pb::Customer {
            attributes: Some(prost_types::Struct {
                fields: [(
                    EMAIL.to_owned(),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::StringValue(format!("{PHONE}\0"))),
                    },
                )]
                .into(),
            }),
            important_dates: vec![pb::ImportantDate {
                kind: format!("{EMAIL}{}", "x".repeat(100)),
                date: None,
            }],
            external_id: String::new(),
            ..fixture()
        },
    ] {
        let r = app.client.create_customer(create(bad)).await;
        refused(errors, r, Code::InvalidArgument);
    }
    let r = app.client.create_customer(create(fixture())).await;
    refused(errors, r, Code::AlreadyExists);
    let r = app
        .update(
            pb::Customer {
                name: created.name.clone(),
                primary_email: EMAIL.into(),
                ..Default::default()
            },
            &[EMAIL, PHONE, "primary_email.value"],
        )
        .await;
    refused(errors, r, Code::InvalidArgument);
    for q in [
        Query::Email(format!("{EMAIL}@")),
        Query::Phone(format!("{PHONE}x")),
        Query::NamePrefix(format!("{EMAIL}{}", "x".repeat(500))),
    ] {
        let r = app
            .client
            .search_customers(pb::SearchCustomersRequest {
                query: Some(q),
                page_size: 10,
                page_token: String::new(),
            })
            .await;
        refused(errors, r, Code::InvalidArgument);
    }

    // Activities carry free text, which may hold anything the customer wrote.
    let now = prost_types::Timestamp {
        seconds: chrono::Utc::now().timestamp() - 60,
        nanos: 0,
    };
    let note = |text: String| pb::RecordActivityRequest {
        parent: created.name.clone(),
        activity: Some(pb::Activity {
            kind: pb::ActivityKind::Inquiry as i32,
            occur_time: Some(now),
            text,
            ..Default::default()
        }),
        request_id: rid(),
    };
    app.client
        .record_activity(note(format!(
            "please call me on {PHONE} or write to {EMAIL}"
        )))
        .await
        .expect("inquiry");
    for bad in [
        format!("{EMAIL} {PHONE}\0"),
        format!("{EMAIL} {PHONE} {}", "x".repeat(100_000)),
    ] {
        let r = app.client.record_activity(note(bad)).await;
        refused(errors, r, Code::InvalidArgument);
    }
    app.client
        .list_activities(pb::ListActivitiesRequest {
            parent: created.name.clone(),
            page_size: 10,
            ..Default::default()
        })
        .await
        .expect("activities");
    app.client
        .list_customers(pb::ListCustomersRequest {
            page_size: 10,
            ..Default::default()
        })
        .await
        .expect("list");
    app.client
        .batch_get_customers(pb::BatchGetCustomersRequest {
            names: vec![created.name.clone(), twin.name.clone()],
        })
        .await
        .expect("batch get");

    // A caller without the read scope is refused before anything personal is touched.
    let mut stranger = client_as(app.port, "system:serviceaccount:shop:stranger", &[]).await;
    let r = stranger
        .search_customers(pb::SearchCustomersRequest {
            query: Some(Query::Email(EMAIL.into())),
            page_size: 10,
            page_token: String::new(),
        })
        .await;
    refused(errors, r, Code::PermissionDenied);

    // The import's duplicate merged away: its record keeps the survivor's history.
    let third = app
        .create(pb::Customer {
            external_id: "pii-fixture-4".into(),
            primary_email: "third.fixture@example.org".into(),
            ..fixture()
        })
        .await;
    app.client
        .merge_customers(pb::MergeCustomersRequest {
            survivor: created.name.clone(),
            merged: vec![third.name.clone()],
            validate_only: false,
            request_id: rid(),
            actor: "agent-7".into(),
        })
        .await
        .expect("merge");

    let export = app.export(&twin.name).await;
    for e in &export.audit_entries {
        errors.text(format!("audit {} {} {}", e.action, e.actor, e.details));
    }
    app.client
        .erase_customer(pb::EraseCustomerRequest {
            name: twin.name.clone(),
            request_id: rid(),
            actor: "dpo".into(),
        })
        .await
        .expect("erase");
    let r = app
        .update(
            pb::Customer {
                name: twin.name.clone(),
                primary_email: EMAIL.into(),
                ..Default::default()
            },
            &["primary_email"],
        )
        .await;
    refused(errors, r, Code::FailedPrecondition);
}

#[tokio::test]
async fn no_email_or_phone_in_logs_spans_or_errors() {
    let captured = captured();
    let mut errors = Errors::default();
    for backend in crm_platform::testing::backends() {
        eprintln!("-- backend {backend:?}");
        journey(backend, &mut errors).await;
    }
    // Let background work (event relay, read-model consumers) log what it will.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let text = captured.text();
    assert!(
        text.contains("rpc") && text.lines().count() > 50,
        "the capture saw the servers' spans and events:\n{text}"
    );
    let in_logs = leaks(&text);
    assert!(
        in_logs.is_empty(),
        "personal data in logs or spans:\n{}",
        in_logs.join("\n")
    );
    let in_errors = leaks(&errors.0.join("\n"));
    assert!(
        in_errors.is_empty(),
        "personal data in returned errors:\n{}",
        in_errors.join("\n")
    );
}
