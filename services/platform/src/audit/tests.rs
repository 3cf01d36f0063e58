//! The writer and the list on both backends: batches reach the table, a stop flushes what
//! is queued and a stopped writer refuses (the queue's bounds: `batch_writer`), pages follow newest first.
use super::*;
use crate::auth::Proof;
use crate::jobs::Jobs;
use crate::page_token::PageTokens;
use crate::testing::{Backend, each_backend};
use sea_orm::{DatabaseConnection, PaginatorTrait};
use std::collections::BTreeSet;
use std::time::Duration;

crate::migrator!(Schema: [CreateAccessRecords]);

async fn database(backend: Backend) -> DatabaseConnection {
    let mut l = crate::config::Loader::new(&[], None).expect("defaults");
    let mut s: crate::config::DatabaseSettings = l.section("database").expect("database");
    s.url = crate::config::Secret::new(crate::testing::fresh_database_url(backend).await);
    let db = crate::db::connect(&s, "audit").await.expect("pool");
    crate::db::migrate::<Schema>(&db).await.expect("migrate");
    db
}

fn read_of(subject: &str, customer: Uuid) -> AccessRecord {
    let who = Principal::new(subject, BTreeSet::new(), Proof::Token);
    AccessRecord::new(
        &who,
        "/crm.x.v1.X/GetX",
        Action::Read,
        format!("customers/{customer}"),
        Some(customer),
    )
}

async fn rows(db: &DatabaseConnection) -> u64 {
    entity::Entity::find().count(db).await.expect("count")
}

async fn eventually_rows(db: &DatabaseConnection, want: u64) {
    for _ in 0..100 {
        if rows(db).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never {want} rows, got {}", rows(db).await);
}

#[tokio::test]
async fn queued_reads_are_written_in_batches_and_flushed_at_stop() {
    each_backend(|backend| async move {
        let db = database(backend).await;
        let mut jobs = Jobs::new();
        let slow = WriterSettings {
            flush_every: Duration::from_secs(3600),
            batch: 10,
            ..WriterSettings::default()
        };
        let log = AccessLog::with_settings(db.clone(), &mut jobs, slow);
        let c = Uuid::now_v7();
        log.record_all((0..25).map(|_| read_of("a", c)).collect())
            .await
            .expect("queued");
        // Two full batches go at once; the last five wait for their (hour-long) window.
        eventually_rows(&db, 20).await;
        jobs.stop().await;
        assert_eq!(rows(&db).await, 25, "the rest flushed at stop");
        let err = log.record(read_of("a", c)).await.expect_err("stopped");
        assert_eq!(err.reason, AUDIT_BACKLOG);
    })
    .await;
}

#[tokio::test]
async fn lists_newest_first_by_customer_subject_and_time() {
    each_backend(|backend| async move {
        let db = database(backend).await;
        let tokens = PageTokens::new(b"test-secret");
        let (c1, c2) = (Uuid::now_v7(), Uuid::now_v7());
        let mut written = Vec::new();
        for i in 0..5 {
            let r = read_of(if i % 2 == 0 { "even" } else { "odd" }, c1);
            written.push(r.clone());
            record_in(&db, [r, read_of("even", c2)])
                .await
                .expect("record");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let by_c1 = AccessFilter {
            customer: Some(c1),
            ..AccessFilter::default()
        };
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = list(&db, &tokens, &by_c1, 2, &token).await.expect("page");
            assert!(page.items.len() <= 2);
            seen.extend(page.items);
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        written.reverse();
        assert_eq!(seen, written, "c1's records, newest first, each once");

        let odd = AccessFilter {
            subject: Some("odd".into()),
            ..by_c1.clone()
        };
        let got = list(&db, &tokens, &odd, 10, "").await.expect("odd");
        assert_eq!(got.items.len(), 2);
        let window = AccessFilter {
            start: Some(written[3].record_time),
            end: Some(written[1].record_time),
            ..by_c1.clone()
        };
        let got = list(&db, &tokens, &window, 10, "").await.expect("window");
        let ids: Vec<Uuid> = got.items.iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [written[2].id, written[3].id],
            "start inclusive, end exclusive"
        );

        let first = list(&db, &tokens, &by_c1, 2, "").await.expect("first");
        let err = list(&db, &tokens, &odd, 2, &first.next_page_token)
            .await
            .expect_err("another query's token");
        assert_eq!(err.reason, "INVALID_PAGE_TOKEN");
    })
    .await;
}

#[test]
fn records_are_bounded() {
    let who = Principal::new("s".repeat(1000), BTreeSet::new(), Proof::Token);
    let r =
        AccessRecord::new(&who, "/m", Action::Erase, "customers/x", None).detail("d".repeat(1000));
    assert_eq!(r.subject.chars().count(), 256);
    assert_eq!(r.detail.chars().count(), MAX_DETAIL_CHARS);
    let other = Uuid::now_v7();
    let about = r.about("customers/y", other);
    assert_ne!(about.id, r.id);
    assert_eq!((about.customer, about.action), (Some(other), Action::Erase));
    for a in [
        Action::Read,
        Action::Export,
        Action::Erase,
        Action::Merge,
        Action::Adjust,
    ] {
        assert_eq!(Action::parse(a.as_str()), Some(a));
    }
}
