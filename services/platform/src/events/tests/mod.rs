//! Tests of the backbone: the bus semantics on both backends (`bus`), and outbox, relay,
//! inbox and consumer on SQLite with the in-process bus and on PostgreSQL with Redis.
use super::*;
use crate::Error;
use crate::testing::{Backend, random_prefix};
use sea_orm::{ConnectionTrait as _, DatabaseTransaction, DbErr, Statement, TransactionTrait as _};
use sea_orm_migration::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

mod batch;
mod bus;
mod committed;
mod delivery;
mod faults;

/// Test settings: defaults with short waits, a random prefix, `redis_url` (empty: in-process).
fn settings(redis_url: &str) -> EventsSettings {
    let mut l = crate::config::Loader::new(&[], None).expect("defaults");
    let mut s: EventsSettings = l.section("events").expect("events");
    s.redis_url = crate::config::Secret::new(redis_url);
    s.key_prefix = random_prefix();
    s.redis_timeout_ms = 300;
    s.relay_interval_ms = 10;
    s.read_block_ms = 50;
    s.claim_idle_ms = 300;
    s.handler_timeout_ms = 200;
    s.max_attempts = 3;
    s
}

/// The test Redis for `backend` (none on SQLite: the in-process bus).
fn redis_for(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres => crate::testing::redis_url().unwrap_or_default(),
    }
}

/// The table a test handler writes its effects to; no key, so applying twice shows.
struct CreateApplied;

impl MigrationName for CreateApplied {
    fn name(&self) -> &str {
        "m20261201_999999_create_applied"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateApplied {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE applied (consumer TEXT NOT NULL, event_id TEXT NOT NULL, subject TEXT NOT NULL, n BIGINT NOT NULL)",
            )
            .await
            .map(drop)
    }
}

crate::migrator!(Schema: [CreateEventOutbox, CreateEventInbox, CreateApplied]);

/// A fresh, migrated database of `backend`, through the platform's pool.
async fn database(backend: Backend) -> DatabaseConnection {
    let mut l = crate::config::Loader::new(&[], None).expect("defaults");
    let mut s: crate::config::DatabaseSettings = l.section("database").expect("database");
    s.url = crate::config::Secret::new(crate::testing::fresh_database_url(backend).await);
    let db = crate::db::connect(&s, "events").await.expect("pool");
    crate::db::migrate::<Schema>(&db).await.expect("migrate");
    db
}

/// Events of `service` on a fresh database of `backend` with `settings`.
async fn events(backend: Backend, settings: &EventsSettings) -> Events {
    Events::new(settings, "producer", database(backend).await).expect("events")
}

/// The n-th event of `subject` (its payload is `n`).
fn event(events: &Events, subject: &str, n: u64) -> Envelope {
    events.envelope(
        "crm.test.v1.thing.changed",
        subject,
        n.to_string().into_bytes(),
    )
}

/// Appends `envelopes` in one committed transaction.
async fn commit(db: &DatabaseConnection, envelopes: &[Envelope]) {
    let txn = db.begin().await.expect("begin");
    outbox::append_all(&txn, envelopes).await.expect("append");
    txn.commit().await.expect("commit");
}

/// A handler recording each event in `applied`; it fails on `poison` until `fixed`.
struct Record {
    group: String,
    poison: Option<String>,
    fixed: Arc<AtomicBool>,
    delay: Duration,
    /// Where `committed` notes each event it is told of, with whether its row is visible
    /// then from another connection of `db`.
    commits: Option<(DatabaseConnection, Commits)>,
}

/// What a [`Record`]'s `committed` was told: calls, each call's `(event id, row visible)`.
type Commits = Arc<std::sync::Mutex<Vec<Vec<(uuid::Uuid, bool)>>>>;

impl Record {
    fn new(name: &str) -> Self {
        Self {
            group: format!("producer.{name}"),
            poison: None,
            fixed: Arc::default(),
            delay: Duration::ZERO,
            commits: None,
        }
    }
}

impl Handler for Record {
    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.poison.as_deref() == Some(event.subject.as_str())
            && !self.fixed.load(Ordering::SeqCst)
        {
            return Err(Error::internal(anyhow::anyhow!("poison {}", event.subject)));
        }
        let n: i64 = String::from_utf8_lossy(&event.payload)
            .parse()
            .unwrap_or(-1);
        let backend = txn.get_database_backend();
        let placeholders = match backend {
            sea_orm::DbBackend::Postgres => "$1, $2, $3, $4",
            _ => "?, ?, ?, ?",
        };
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            format!("INSERT INTO applied (consumer, event_id, subject, n) VALUES ({placeholders})"),
            [
                self.group.clone().into(),
                event.id.to_string().into(),
                event.subject.clone().into(),
                n.into(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn committed(&self, events: &[&Envelope]) {
        let Some((db, commits)) = &self.commits else {
            return;
        };
        let mut call = Vec::with_capacity(events.len());
        for e in events {
            let sql = format!("SELECT n FROM applied WHERE event_id = '{}'", e.id);
            let rows = db
                .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .expect("read applied");
            call.push((e.id, !rows.is_empty()));
        }
        commits.lock().expect("commits").push(call);
    }
}

/// `(subject, n)` of every row `group` applied, sorted.
async fn applied(db: &DatabaseConnection, group: &str) -> Vec<(String, i64)> {
    let backend = db.get_database_backend();
    let sql =
        format!("SELECT subject, n FROM applied WHERE consumer = '{group}' ORDER BY subject, n");
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("read applied")
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "subject").expect("subject"),
                r.try_get::<i64>("", "n").expect("n"),
            )
        })
        .collect()
}

/// Waits up to `within` for `done`, checking every 20 ms.
async fn eventually(within: Duration, what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `consumer` until `done` holds for its stats (bounded).
async fn run_until<H: Handler>(consumer: &mut Consumer<H>, done: impl Fn(&ConsumerStats) -> bool) {
    let stats = consumer.stats();
    let start = Instant::now();
    while !done(&stats) {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "consumer never got there: {stats:?}"
        );
        consumer.run().await.expect("run");
    }
}

/// Runs the relay until the outbox is empty (bounded).
async fn drain(relay: &Relay) {
    let start = Instant::now();
    loop {
        relay.run().await.expect("relay");
        if relay.lag().await.expect("lag").unsent == 0 {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the outbox never drained"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn event_settings_are_bounded() {
    let mut s = settings("");
    let mut p = Vec::new();
    crate::config::Validate::validate(&s, &mut p);
    assert!(p.is_empty(), "{p:?}");
    s.max_attempts = 0;
    s.relay_batch = 1_000_000;
    s.claim_idle_ms = s.handler_timeout_ms;
    s.redis_url = crate::config::Secret::new("rediss://x");
    s.relay_idle_max_ms = s.relay_interval_ms - 1;
    crate::config::Validate::validate(&s, &mut p);
    assert_eq!(p.len(), 5, "{p:?}");
}

#[tokio::test]
async fn replay_from_a_shell_refuses_the_in_process_bus() {
    let err = replay_dead_letters(&settings(""), "producer", TimeRange::all())
        .await
        .expect_err("the in-process bus lives in the serving process only");
    assert!(err.to_string().contains("events.redis_url"), "{err}");
}
