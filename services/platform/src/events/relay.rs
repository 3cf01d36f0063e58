//! The outbox relay: publishes a service's unsent outbox rows, in order, to its stream and
//! marks them sent. At least once: a relay that stops between publishing and marking
//! publishes those rows again (the consumers' inboxes drop the copies).
//!
//! - PostgreSQL: a batch is claimed `FOR UPDATE SKIP LOCKED` and published and marked in that
//!   transaction, so replicas' relays share the work; a subject's rows are published only
//!   from the oldest unsent one on ([`outbox::claim`]), so two relays never reorder one subject.
//! - SQLite (one replica): one relay; rows are read, published, then marked outside a
//!   transaction (the single pooled connection is not held while the bus is called).
//! - Bus (or database) unavailable: the rows stay unsent, the outage is logged once, and
//!   the next run publishes them (the relay polls every `relay_interval_ms` to
//!   `relay_idle_max_ms`; see [`Events::start_relay`](super::Events::start_relay)).
use super::bus::EventBus;
use super::outbox::{self, OutboxLag};
use crate::Error;
use crate::config::EventsSettings;
use sea_orm::{DatabaseConnection, DbBackend, TransactionTrait as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Most batches one run publishes before the next tick.
const BATCHES_PER_RUN: usize = 16;
/// How often sent rows past their retention are purged, and how many per statement.
pub const PURGE_EVERY: Duration = Duration::from_secs(60);
const PURGE_BATCH: u64 = 1000;
/// How often the lag is read and logged; the oldest unsent row older than this is a warning.
pub const LAG_REPORT_EVERY: Duration = Duration::from_secs(10);

/// Counters of one relay, for logs and tests.
#[derive(Debug, Default)]
pub struct RelayStats {
    pub published: AtomicU64,
    pub bus_failures: AtomicU64,
    /// The lag as last read by the lag report (see [`Relay::lag`] for a fresh one).
    pub last_unsent: AtomicU64,
    pub last_oldest_unsent_ms: AtomicU64,
    /// The bus or the database was away at the last run (its outage is logged once).
    paused: AtomicBool,
}

/// Publishes one service's outbox to its stream.
#[derive(Clone)]
pub struct Relay {
    db: DatabaseConnection,
    bus: EventBus,
    stream: String,
    batch: u64,
    max_len: u64,
    stats: Arc<RelayStats>,
}

impl Relay {
    pub fn new(
        db: DatabaseConnection,
        bus: EventBus,
        stream: String,
        settings: &EventsSettings,
    ) -> Self {
        Self {
            db,
            bus,
            stream,
            batch: settings.relay_batch,
            max_len: settings.stream_max_len,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }

    /// The outbox's current lag (unsent rows, age of the oldest).
    pub async fn lag(&self) -> Result<OutboxLag, Error> {
        outbox::lag(&self.db).await
    }

    /// Publishes up to [`BATCHES_PER_RUN`] batches; returns how many rows were published.
    /// The bus being away is not an error here: the rows wait for the next run.
    pub async fn run(&self) -> Result<u64, Error> {
        let mut total = 0;
        for _ in 0..BATCHES_PER_RUN {
            let unavailable = match self.publish_batch().await {
                Ok(Ok(n)) => {
                    total += n;
                    if n < self.batch {
                        break;
                    }
                    continue;
                }
                Ok(Err(e)) => {
                    self.stats.bus_failures.fetch_add(1, Ordering::Relaxed);
                    ("event bus", e.to_string())
                }
                Err(e) if e.reason == crate::gate::DATABASE_UNAVAILABLE => {
                    ("database", e.to_string())
                }
                Err(e) => return Err(e),
            };
            if !self.stats.paused.swap(true, Ordering::Relaxed) {
                let (what, error) = unavailable;
                tracing::warn!(stream = %self.stream, error = %error, "{what} unavailable; outbox rows wait and are published when it is back");
            }
            self.stats.published.fetch_add(total, Ordering::Relaxed);
            return Ok(total);
        }
        if self.stats.paused.swap(false, Ordering::Relaxed) {
            tracing::info!(stream = %self.stream, "outbox publishing resumed");
        }
        self.stats.published.fetch_add(total, Ordering::Relaxed);
        Ok(total)
    }

    /// One batch: the outer error is the database's, the inner one the bus's.
    async fn publish_batch(&self) -> Result<Result<u64, super::BusError>, Error> {
        if self.db.get_database_backend() != DbBackend::Postgres {
            let rows = outbox::claim(&self.db, self.batch).await?;
            return match self.publish(&rows).await? {
                Ok(seqs) => {
                    let n = seqs.len() as u64;
                    outbox::mark_sent(&self.db, seqs).await?;
                    Ok(Ok(n))
                }
                Err(e) => Ok(Err(e)),
            };
        }
        let txn = self.db.begin().await?;
        let rows = outbox::claim(&txn, self.batch).await?;
        match self.publish(&rows).await? {
            Ok(seqs) => {
                let n = seqs.len() as u64;
                if n > 0 {
                    outbox::mark_sent(&txn, seqs).await?;
                }
                txn.commit().await?;
                Ok(Ok(n))
            }
            Err(e) => {
                txn.rollback().await?;
                Ok(Err(e))
            }
        }
    }

    /// Publishes `rows` in order; their seqs once the bus has them.
    async fn publish(
        &self,
        rows: &[outbox::Model],
    ) -> Result<Result<Vec<i64>, super::BusError>, Error> {
        if rows.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        let events = rows
            .iter()
            .map(outbox::Model::envelope)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .bus
            .publish(&self.stream, &events, self.max_len)
            .await
            .map(|_| rows.iter().map(|r| r.seq).collect()))
    }

    /// Reads the lag, keeps it in the stats and logs it while rows wait.
    pub async fn report_lag(&self) -> Result<OutboxLag, Error> {
        let lag = self.lag().await?;
        let oldest_ms = lag.oldest_unsent_age.as_millis() as u64;
        self.stats.last_unsent.store(lag.unsent, Ordering::Relaxed);
        self.stats
            .last_oldest_unsent_ms
            .store(oldest_ms, Ordering::Relaxed);
        if lag.oldest_unsent_age > LAG_REPORT_EVERY {
            tracing::warn!(stream = %self.stream, unsent = lag.unsent, oldest_unsent_ms = oldest_ms, "event outbox lagging");
        } else if lag.unsent > 0 {
            tracing::debug!(stream = %self.stream, unsent = lag.unsent, oldest_unsent_ms = oldest_ms, "event outbox lag");
        }
        Ok(lag)
    }

    /// Deletes rows sent longer than `retention` ago, in bounded statements.
    pub async fn purge(&self, retention: Duration) -> Result<u64, Error> {
        let mut total = 0;
        loop {
            let n = outbox::purge_sent(&self.db, retention, PURGE_BATCH).await?;
            total += n;
            if n < PURGE_BATCH {
                if total > 0 {
                    tracing::info!(purged = total, "sent outbox rows purged");
                }
                return Ok(total);
            }
        }
    }
}
