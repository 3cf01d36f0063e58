//! The refresh job's failure path (customers and loyalty unreachable: members are retried
//! later, nothing is written), the sealed profile at rest (no plaintext contact data in the
//! database), GetMember's and RebuildReadModel's input checks and the rebuild's marking.
//! A refresh against a real customers server is the top-level e2e tests' (crm-customers is
//! no dependency of this crate).
use crate::harness::*;
use crate::read_model::{created, member_until, new_customer, producer};
use chrono::Utc;
use crm_campaigns::domain::CustomerId;
use crm_campaigns::domain::member::{ConsentFact, Profile, Snapshot};
use crm_campaigns::store::members as store;
use crm_platform::testing::Backend;
use crm_proto::campaigns as pb;
use sea_orm::{ConnectionTrait as _, Statement};
use tonic::Code;

const EMAIL: &str = "li.wei.at.rest@example.com";

#[tokio::test]
async fn unreachable_services_leave_members_stale_and_retried_later() {
    each_backend(|backend| async move {
        let app = spawn_app_with(backend, |s| {
            // Nothing listens on port 9: every call fails fast.
            let c = &mut s.campaigns.clients;
            c.customers_url = "http://127.0.0.1:9".into();
            c.loyalty_url = "http://127.0.0.1:9".into();
            c.timeout_ms = 500;
            s.campaigns.read_model.refresh_retry_secs = 3600;
        })
        .await;
        let c = new_customer();
        producer(&app, "customers").send(&c, created(&c)).await;
        member_until(&app, &c, "member known", |_| true).await;
        let id = CustomerId::parse_name(&c).expect("ok");
        let db = app.service.db();
        // The job (or this call) asks, fails and puts the member off.
        crm_platform::testing::events::eventually("refresh failed and deferred", || async {
            let _ = app.service.refresh_read_model().await;
            let due = store::due(db, true, true, Utc::now(), None, 10)
                .await
                .expect("ok");
            !due.iter().any(|d| d.id == id)
        })
        .await;
        let later = Utc::now() + chrono::TimeDelta::seconds(3700);
        let due = store::due(db, true, true, later, None, 10)
            .await
            .expect("ok");
        let d = due
            .iter()
            .find(|d| d.id == id)
            .expect("due again after the retry time");
        assert!(
            d.profile_stale && d.loyalty_stale,
            "{d:?}: nothing was settled"
        );
        let keys = app.service.keys().await.expect("ok");
        assert_eq!(store::profile(db, &keys, id).await.expect("ok"), None);
        // A rebuild cannot list customers: the job's page fails and the rebuild stays
        // unfinished for the next run.
        app.client
            .clone()
            .rebuild_read_model(pb::RebuildReadModelRequest { request_id: rid() })
            .await
            .expect("rebuild requested");
        assert!(app.service.run_rebuild().await.is_err());
        let left = store::next_rebuild(db)
            .await
            .expect("ok")
            .expect("unfinished");
        assert!(!left.customers_done && left.customers_token.is_empty());
    })
    .await;
}

/// Every byte of the database: the SQLite file and its WAL, or the PostgreSQL members rows
/// as text.
async fn stored_bytes(app: &TestApp) -> Vec<u8> {
    match app.storage.backend {
        Backend::Sqlite => {
            let path = app
                .storage
                .database_url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .expect("ok")
                .to_owned();
            let mut out = std::fs::read(&path).expect("sqlite file");
            for suffix in ["-wal", "-journal"] {
                if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
                    out.extend(more);
                }
            }
            out
        }
        Backend::Postgres => {
            let rows = app
                .service
                .db()
                .query_all_raw(Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    "SELECT encode(profile, 'escape') || coalesce(pii_key, '') AS t FROM members",
                ))
                .await
                .expect("members rows");
            rows.iter()
                .flat_map(|r| {
                    r.try_get_by_index::<Option<String>>(0)
                        .expect("text")
                        .unwrap_or_default()
                        .into_bytes()
                })
                .collect()
        }
    }
}

#[tokio::test]
async fn the_profile_is_sealed_at_rest_and_opens_for_its_member_only() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let db = app.service.db();
        let keys = app.service.keys().await.expect("ok");
        let (id, other) = (CustomerId::generate(), CustomerId::generate());
        let now = crm_campaigns::domain::now();
        store::ensure(db, &[id, other], now).await.expect("ok");
        let snapshot = Snapshot {
            profile: Profile {
                given_name: "Wei".into(),
                family_name: "Li".into(),
                display_name: "Li Wei".into(),
                primary_email: EMAIL.into(),
                phone: "+8613800000000".into(),
            },
            language_code: "zh-CN".into(),
            time_zone: "Asia/Shanghai".into(),
            birthday: Some((2, 29)),
            tags: vec!["vip".into(), "vip".into(), "spa".into()],
            attributes: vec![("size".into(), "42".into())],
            dates: vec![("anniversary".into(), 6, 1)],
            consents: vec![ConsentFact {
                channel: crm_proto::customers::Channel::Sms as i32,
                granted: true,
                time: now,
            }],
            rfm_segment: Some("champions".into()),
            ..Default::default()
        };
        store::write_snapshot(db, &keys, id, &snapshot, now)
            .await
            .expect("ok");
        assert_eq!(
            store::profile(db, &keys, id).await.expect("ok"),
            Some(snapshot.profile.clone())
        );
        let m = store::find(db, id).await.expect("ok").expect("ok");
        assert_eq!(m.tags, vec!["spa".to_owned(), "vip".to_owned()]);
        assert_eq!(
            (m.time_zone.as_str(), m.rfm_segment.as_str()),
            ("Asia/Shanghai", "champions")
        );
        assert_eq!(
            m.consented_channels,
            vec![crm_proto::customers::Channel::Sms as i32]
        );
        // The wire form carries no names or contact data.
        let wire = app
            .client
            .clone()
            .get_member(pb::GetMemberRequest {
                name: id.member_name(),
            })
            .await
            .expect("ok")
            .into_inner();
        assert!(!format!("{wire:?}").contains("Wei"), "{wire:?}");
        // At rest: neither the e-mail nor the phone in the clear.
        let bytes = stored_bytes(&app).await;
        assert!(!bytes.is_empty());
        for secret in [EMAIL, "+8613800000000", "Li Wei"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} stored in the clear on {backend:?}"
            );
        }
        // A sealed profile copied to another member's row does not open there.
        let (sql, values): (&str, Vec<sea_orm::Value>) = match backend {
            Backend::Sqlite => (
                "UPDATE members SET profile = (SELECT profile FROM members WHERE id = ?), \
                 pii_key = (SELECT pii_key FROM members WHERE id = ?) WHERE id = ?",
                vec![id.0.into(), id.0.into(), other.0.into()],
            ),
            Backend::Postgres => (
                "UPDATE members SET profile = m.profile, pii_key = m.pii_key \
                 FROM members m WHERE m.id = $1 AND members.id = $2",
                vec![id.0.into(), other.0.into()],
            ),
        };
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await
        .expect("ok");
        assert!(store::profile(db, &keys, other).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn bad_member_requests_name_their_fields() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let mut client = app.client.clone();
        for name in ["", "customers/1", "members/not-a-uuid"] {
            let s = client
                .get_member(pb::GetMemberRequest { name: name.into() })
                .await
                .expect_err("an error");
            assert_eq!(s.code(), Code::InvalidArgument, "{name}: {s:?}");
            assert_eq!(violations(&s), ["name"], "{name}");
        }
        let s = client
            .get_member(pb::GetMemberRequest {
                name: CustomerId::generate().member_name(),
            })
            .await
            .expect_err("an error");
        assert_status(&s, Code::NotFound, "NOT_FOUND");
        let s = client
            .rebuild_read_model(pb::RebuildReadModelRequest::default())
            .await
            .expect_err("an error");
        assert_eq!(violations(&s), ["request_id"]);
    })
    .await;
}

#[tokio::test]
async fn a_rebuild_marks_every_member_for_a_refresh() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let db = app.service.db();
        let ids = [CustomerId::generate(), CustomerId::generate()];
        let now = crm_campaigns::domain::now();
        store::ensure(db, &ids, now).await.expect("ok");
        let keys = app.service.keys().await.expect("ok");
        // Refreshed: no longer due.
        for d in store::due(db, true, true, Utc::now(), None, 10)
            .await
            .expect("ok")
        {
            assert!(store::settle(db, &d, true, true).await.expect("ok"));
            store::write_snapshot(db, &keys, d.id, &Snapshot::default(), now)
                .await
                .expect("ok");
        }
        assert!(
            store::due(db, true, true, Utc::now(), None, 10)
                .await
                .expect("ok")
                .is_empty()
        );
        let request_id = rid();
        let mut client = app.client.clone();
        let marked = client
            .rebuild_read_model(pb::RebuildReadModelRequest {
                request_id: request_id.clone(),
            })
            .await
            .expect("ok")
            .into_inner()
            .marked;
        assert_eq!(marked, 2);
        let due = store::due(db, true, true, Utc::now(), None, 10)
            .await
            .expect("ok");
        assert_eq!(due.len(), 2);
        assert!(due.iter().all(|d| d.profile_stale && d.loyalty_stale));
        // A retry is answered the same, marking nothing new.
        let again = client
            .rebuild_read_model(pb::RebuildReadModelRequest { request_id })
            .await
            .expect("ok")
            .into_inner();
        assert_eq!(again.marked, 2);
        // A settle after an event changed the member keeps it stale.
        let d = due[0];
        store::points_changed(
            db,
            d.id,
            crm_campaigns::domain::now() + chrono::TimeDelta::milliseconds(5),
        )
        .await
        .expect("ok");
        assert!(!store::settle(db, &d, true, true).await.expect("ok"));
    })
    .await;
}
