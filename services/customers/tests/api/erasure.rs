//! The erasure status: the reporting services' ErasureCompleted events, appended here on
//! their streams of the app's bus (in process on SQLite, Redis on PostgreSQL), become the
//! per-service status of GetErasureStatus and ExportCustomer.
use crate::harness::*;
use crm_platform::events::{Envelope, typed};
use crm_platform::testing::events::{PATIENCE, Producer};
use crm_proto::customers as pb;
use crm_proto::events::event::Payload;
use crm_proto::events::{self as ev, types};
use sea_orm::{ConnectionTrait as _, Statement};
use std::time::{Duration, Instant};
use tonic::Code;

const PENDING: i32 = pb::ErasureState::Pending as i32;
const COMPLETED: i32 = pb::ErasureState::Completed as i32;

/// The reporting services, as far as the bus can tell: each appends to its own stream.
struct Reporter {
    settings: crm_platform::config::EventsSettings,
}

impl Reporter {
    fn of(app: &TestApp) -> Self {
        let s = crm_platform::testing::settings::<crm_customers::Customers>(&app.storage, |_| {});
        Self {
            settings: crm_platform::app::ServiceSettings::platform(&s)
                .events
                .clone(),
        }
    }

    fn producer(&self, producer: &str) -> Producer {
        Producer::new(&self.settings, producer)
    }

    /// Appends `envelope` to `producer`'s stream (again: a redelivery).
    async fn append(&self, producer: &str, envelope: &Envelope) {
        self.producer(producer)
            .publish(std::slice::from_ref(envelope))
            .await;
    }

    /// Appends a new ErasureCompleted from `producer` and returns it.
    async fn report(&self, producer: &str, payload: ev::ErasureCompleted) -> Envelope {
        let envelope = completed(producer, payload);
        self.append(producer, &envelope).await;
        envelope
    }

    async fn dead_letters(&self, producer: &str) -> Vec<crm_platform::events::DeadLetter> {
        self.producer(producer).dead_letters().await
    }
}

/// The envelope a producer's relay would publish for `payload`.
fn completed(producer: &str, payload: ev::ErasureCompleted) -> Envelope {
    let subject = payload.customer.clone();
    typed(producer, subject, Payload::ErasureCompleted(payload))
}

fn done(service: &str, status: &pb::ErasureStatus, scrubbed: i64) -> ev::ErasureCompleted {
    ev::ErasureCompleted {
        service: service.into(),
        customer: status.customer.clone(),
        erasure_event_id: status.erasure_event_id.clone(),
        complete_time: Some(prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp(),
            nanos: 5_000,
        }),
        scrubbed_records: scrubbed,
    }
}

impl TestApp {
    async fn erasure_status(&mut self, name: &str) -> Result<pb::ErasureStatus, tonic::Status> {
        self.client
            .get_erasure_status(pb::GetErasureStatusRequest { name: name.into() })
            .await
            .map(|r| r.into_inner())
    }

    /// Polls the status of `name` until `done` holds for it.
    async fn erasure_status_until(
        &mut self,
        name: &str,
        done: impl Fn(&pb::ErasureStatus) -> bool,
    ) -> pb::ErasureStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let s = self.erasure_status(name).await.expect("status");
            if done(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "status never got there: {s:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn erase(&mut self, name: &str) {
        self.client
            .erase_customer(pb::EraseCustomerRequest {
                name: name.into(),
                request_id: rid(),
                actor: "dpo".into(),
            })
            .await
            .expect("erase");
    }

    /// Rows of the completions table, straight from the database.
    async fn completion_rows(&self) -> i64 {
        let db = sea_orm::Database::connect(self.storage.database_url.as_str())
            .await
            .expect("db");
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM erasure_completions",
            ))
            .await
            .expect("count")
            .expect("a row");
        row.try_get("", "n").expect("n")
    }
}

fn service<'a>(s: &'a pb::ErasureStatus, name: &str) -> &'a pb::ServiceErasure {
    s.services
        .iter()
        .find(|x| x.service == name)
        .unwrap_or_else(|| panic!("no {name} in {s:#?}"))
}

#[tokio::test]
async fn an_erasure_completes_when_every_reporting_service_reported() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let reporter = Reporter::of(&app);
        let c = app.create(person("Li Wei", "li@example.com")).await;
        let twin = app.create(person("Li Wei (old)", "wei@example.com")).await;
        app.client
            .merge_customers(pb::MergeCustomersRequest {
                survivor: c.name.clone(),
                merged: vec![twin.name.clone()],
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("merge");
        let mut tap = app.tap_events().await;
        app.erase(&c.name).await;
        let erased_event = app
            .published(&mut tap)
            .await
            .into_iter()
            .find(|e| e.r#type == types::CUSTOMER_ERASED)
            .expect("CustomerErased published");
        let erased = app.get(&c.name).await.expect("tombstone");

        let pending = app.erasure_status(&c.name).await.expect("status");
        assert_eq!(pending.customer, c.name);
        assert_eq!(pending.erasure_event_id, erased_event.id);
        assert_eq!(pending.erase_time, erased.delete_time);
        assert_eq!(pending.state, PENDING);
        let services: Vec<_> = pending
            .services
            .iter()
            .map(|s| {
                (
                    s.service.as_str(),
                    s.state,
                    s.complete_time,
                    s.scrubbed_records,
                )
            })
            .collect();
        assert_eq!(
            services,
            [
                ("loyalty", PENDING, None, 0),
                ("tickets", PENDING, None, 0),
                ("campaigns", PENDING, None, 0),
                ("recommendations", PENDING, None, 0)
            ]
        );
        // The customer merged into it was erased with it: its status is the survivor's.
        assert_eq!(
            app.erasure_status(&twin.name).await.expect("loser"),
            pending
        );

        let first = done("loyalty", &pending, 4);
        let loyalty = reporter.report("loyalty", first.clone()).await;
        let half = app
            .erasure_status_until(&c.name, |s| service(s, "loyalty").state == COMPLETED)
            .await;
        assert_eq!(half.state, PENDING, "tickets has not reported");
        let l = service(&half, "loyalty");
        assert_eq!(l.scrubbed_records, 4);
        assert_eq!(l.complete_time, first.complete_time);
        assert_eq!(l.completion_event_id, loyalty.id.to_string());
        assert_eq!(l.erasure_event_id, erased_event.id);
        assert_eq!(service(&half, "tickets").state, PENDING);

        // Delivered again, and a second report of the same service: the first one stays.
        reporter.append("loyalty", &loyalty).await;
        reporter
            .report("loyalty", done("loyalty", &pending, 9))
            .await;
        reporter
            .report("tickets", done("tickets", &pending, 0))
            .await;
        let waiting = app
            .erasure_status_until(&c.name, |s| service(s, "tickets").state == COMPLETED)
            .await;
        assert_eq!(waiting.state, PENDING, "campaigns has not reported");
        reporter
            .report("campaigns", done("campaigns", &pending, 5))
            .await;
        let waiting = app
            .erasure_status_until(&c.name, |s| service(s, "campaigns").state == COMPLETED)
            .await;
        assert_eq!(waiting.state, PENDING, "recommendations has not reported");
        reporter
            .report("recommendations", done("recommendations", &pending, 3))
            .await;
        let complete = app
            .erasure_status_until(&c.name, |s| s.state == COMPLETED)
            .await;
        assert_eq!(service(&complete, "tickets").scrubbed_records, 0);
        // The loyalty stream is read in order: a later report on it being applied means the
        // redelivery and the second report were too.
        let other = app.create(person("Ada", "ada@example.com")).await;
        app.erase(&other.name).await;
        let other_pending = app.erasure_status(&other.name).await.expect("other");
        reporter
            .report("loyalty", done("loyalty", &other_pending, 1))
            .await;
        app.erasure_status_until(&other.name, |s| service(s, "loyalty").state == COMPLETED)
            .await;
        let after = app.erasure_status(&c.name).await.expect("status");
        assert_eq!(service(&after, "loyalty"), l, "the first report stays");
        assert_eq!(
            app.completion_rows().await,
            5,
            "one row per customer and service"
        );

        // The export of an erased customer carries the same status.
        let export = app.export(&c.name).await;
        assert_eq!(export.erasure_status.as_ref(), Some(&after));
        let active = app.create(person("Bo", "bo@example.com")).await;
        assert_eq!(app.export(&active.name).await.erasure_status, None);
    })
    .await;
}

#[tokio::test]
async fn reports_that_answer_no_erasure_here_are_ignored_and_broken_ones_dead_lettered() {
    each_backend(|backend| async move {
        let storage = Storage::fresh(backend).await;
        // One delivery, so a broken report is dead-lettered at once.
        let mut app = spawn_app_with(storage, |s| s.platform.events.max_attempts = 1).await;
        let reporter = Reporter::of(&app);
        let c = app.create(person("Li Wei", "li@example.com")).await;
        let active = app.create(person("Ada", "ada@example.com")).await;
        app.erase(&c.name).await;
        let pending = app.erasure_status(&c.name).await.expect("status");

        // On the loyalty stream: another service's report, one for a customer that was
        // never erased, one for a customer unknown here, one answering another erasure, and
        // one without a customer name (breaks the contract).
        reporter
            .report("loyalty", done("tickets", &pending, 7))
            .await;
        reporter
            .report(
                "loyalty",
                ev::ErasureCompleted {
                    customer: active.name.clone(),
                    ..done("loyalty", &pending, 7)
                },
            )
            .await;
        reporter
            .report(
                "loyalty",
                ev::ErasureCompleted {
                    customer: format!("customers/{}", uuid::Uuid::now_v7()),
                    ..done("loyalty", &pending, 7)
                },
            )
            .await;
        reporter
            .report(
                "loyalty",
                ev::ErasureCompleted {
                    erasure_event_id: uuid::Uuid::now_v7().to_string(),
                    ..done("loyalty", &pending, 7)
                },
            )
            .await;
        let broken = reporter
            .report(
                "loyalty",
                ev::ErasureCompleted {
                    customer: String::new(),
                    ..done("loyalty", &pending, 7)
                },
            )
            .await;
        // A service nobody expects, on its own stream: nobody reads it.
        reporter
            .report("insights", done("insights", &pending, 7))
            .await;
        // Then the real one, applied after all of the above (one stream, in order).
        reporter
            .report("loyalty", done("loyalty", &pending, 2))
            .await;
        let s = app
            .erasure_status_until(&c.name, |s| service(s, "loyalty").state == COMPLETED)
            .await;
        assert_eq!(service(&s, "loyalty").scrubbed_records, 2, "{s:#?}");
        assert_eq!(
            service(&s, "tickets").state,
            PENDING,
            "tickets' report came on the loyalty stream"
        );
        let names: Vec<_> = s.services.iter().map(|p| p.service.as_str()).collect();
        assert_eq!(
            names,
            ["loyalty", "tickets", "campaigns", "recommendations"],
            "insights is not a reporting service"
        );
        assert_eq!(app.completion_rows().await, 1);

        let dead = reporter.dead_letters("loyalty").await;
        assert_eq!(dead.len(), 1, "{dead:#?}");
        assert_eq!(dead[0].group, "customers.erasure");
        assert_eq!(
            dead[0].envelope.as_ref().map(|e| e.id).ok(),
            Some(broken.id)
        );
        assert!(dead[0].error.contains("customer"), "{}", dead[0].error);

        let err = app
            .erasure_status(&active.name)
            .await
            .expect_err("not erased");
        assert_status(&err, Code::NotFound, "CUSTOMER_NOT_ERASED");
    })
    .await;
}

#[tokio::test]
async fn the_reporting_services_come_from_config() {
    each_backend(|backend| async move {
        let storage = Storage::fresh(backend).await;
        let mut app = spawn_app_with(storage, |s| {
            s.customers.erasure.reporting_services = vec!["tickets".into()];
        })
        .await;
        let reporter = Reporter::of(&app);
        let c = app.create(person("Li Wei", "li@example.com")).await;
        app.erase(&c.name).await;
        let pending = app.erasure_status(&c.name).await.expect("status");
        let names: Vec<_> = pending
            .services
            .iter()
            .map(|s| s.service.as_str())
            .collect();
        assert_eq!(names, ["tickets"]);
        // Loyalty is not read at all; tickets alone completes the erasure.
        reporter
            .report("loyalty", done("loyalty", &pending, 1))
            .await;
        reporter
            .report("tickets", done("tickets", &pending, 3))
            .await;
        let s = app
            .erasure_status_until(&c.name, |s| s.state == COMPLETED)
            .await;
        assert_eq!(s.services.len(), 1);
        assert_eq!(app.completion_rows().await, 1);
    })
    .await;
}

#[tokio::test]
async fn get_erasure_status_validates_its_input() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        for bad in [
            "",
            "customers/not-a-uuid",
            "tickets/0190f0a8-7c1f-7d2a-9b3e-4f5a6b7c8d9e",
        ] {
            let err = app.erasure_status(bad).await.expect_err(bad);
            assert_eq!(err.code(), Code::InvalidArgument, "{bad}: {err:?}");
            assert_eq!(violations(&err), ["name"], "{bad}");
        }
        let unknown = format!("customers/{}", uuid::Uuid::now_v7());
        let err = app.erasure_status(&unknown).await.expect_err("unknown");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
        let active = app.create(person("Ada", "ada@example.com")).await;
        let err = app.erasure_status(&active.name).await.expect_err("active");
        assert_status(&err, Code::NotFound, "CUSTOMER_NOT_ERASED");
    })
    .await;
}

#[tokio::test]
async fn an_erasure_from_before_erasures_were_recorded_takes_any_report() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let reporter = Reporter::of(&app);
        let c = app.create(person("Li Wei", "li@example.com")).await;
        app.erase(&c.name).await;
        let erased = app.get(&c.name).await.expect("tombstone");
        // As if erased before this release: no erasure row.
        let db = sea_orm::Database::connect(app.storage.database_url.as_str())
            .await
            .expect("db");
        db.execute_unprepared("DELETE FROM customer_erasures")
            .await
            .expect("forget the erasure row");
        let old = app.erasure_status(&c.name).await.expect("status");
        assert_eq!(old.erasure_event_id, "");
        assert_eq!(old.erase_time, erased.delete_time);
        assert_eq!(old.state, PENDING);
        let answer = uuid::Uuid::now_v7().to_string();
        reporter
            .report(
                "loyalty",
                ev::ErasureCompleted {
                    erasure_event_id: answer.clone(),
                    ..done("loyalty", &old, 1)
                },
            )
            .await;
        let s = app
            .erasure_status_until(&c.name, |s| service(s, "loyalty").state == COMPLETED)
            .await;
        assert_eq!(service(&s, "loyalty").erasure_event_id, answer);
    })
    .await;
}
