//! The consumer runner: reads a group's deliveries and applies each exactly once.
//!
//! Per delivery, one transaction holds the inbox row (consumer group, event id) and the
//! handler's effects; it commits, then the entry is acknowledged. So:
//! - a delivery seen again (ack lost, entry reclaimed, two replicas racing) finds its inbox
//!   row and is only acknowledged; on PostgreSQL the second insert waits for the first
//!   transaction, so two replicas never both apply it;
//! - a handler error (a panic or `handler_timeout_ms` included) rolls everything back and
//!   leaves the entry pending: after `claim_idle_ms` a replica (this one too) reclaims and
//!   retries it; the failure of its `max_attempts`-th delivery sends it to the dead-letter
//!   stream with the error, where it no longer blocks anything. Deliveries that never
//!   finished (a crash) count too, so the first failure after more sends it there at once;
//! - the database being unreachable is no failure of the event: it stays pending and the
//!   consumer pauses until the database answers;
//! - an entry that is no envelope goes to the dead letters at once.
//!
//! A consumer handles its deliveries one at a time in stream order; entries of one subject
//! reach the handler in order unless a retry or another replica interleaves them, so
//! handlers tolerate out-of-order arrival (compare versions or times in the payload).
use super::bus::{BusError, Delivery, Subscription};
use super::envelope::Envelope;
use super::inbox;
use crate::Error;
use crate::config::EventsSettings;
use crate::panic::Caught;
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait as _};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tracing::Instrument as _;

/// What a consuming service implements per consumer group.
pub trait Handler: Send + Sync + 'static {
    /// The event types it applies (others are acknowledged without a transaction); empty:
    /// every type.
    fn event_types(&self) -> &[&str] {
        &[]
    }

    /// Applies `event` in `txn` (the inbox row is in it already). An error rolls back and
    /// retries the event later; it must not call the producer synchronously.
    fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Counters of one consumer, for logs and tests.
#[derive(Debug, Default)]
pub struct ConsumerStats {
    /// Events whose handler committed.
    pub applied: AtomicU64,
    /// Deliveries found in the inbox (already applied), only acknowledged.
    pub duplicates: AtomicU64,
    /// Deliveries acknowledged unread (another type, or a replay for another group).
    pub skipped: AtomicU64,
    pub failures: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Polls stopped by the bus or the database being unavailable (each then pauses).
    pub pauses: AtomicU64,
}

/// Most reads one run makes before yielding to the next tick.
const READS_PER_RUN: usize = 16;
/// Pause after the bus or the database failed, so an outage is not a busy loop.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// One consumer of a group; [`Consumer::run`] is its job's body.
pub struct Consumer<H> {
    db: DatabaseConnection,
    handler: Arc<H>,
    subscription: Subscription,
    batch: usize,
    block: Duration,
    claim_idle: Duration,
    max_attempts: u64,
    handler_timeout: Duration,
    last_reclaim: Option<Instant>,
    paused: bool,
    stats: Arc<ConsumerStats>,
}

enum Outcome {
    Applied,
    Duplicate,
}

impl<H: Handler> Consumer<H> {
    pub fn new(
        db: DatabaseConnection,
        subscription: Subscription,
        handler: Arc<H>,
        settings: &EventsSettings,
    ) -> Self {
        Self {
            db,
            handler,
            subscription,
            batch: settings.consumer_batch as usize,
            block: Duration::from_millis(settings.read_block_ms),
            claim_idle: Duration::from_millis(settings.claim_idle_ms),
            max_attempts: settings.max_attempts,
            handler_timeout: Duration::from_millis(settings.handler_timeout_ms),
            last_reclaim: None,
            paused: false,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> Arc<ConsumerStats> {
        self.stats.clone()
    }

    /// The group's name, also the inbox's consumer name.
    pub fn group(&self) -> &str {
        self.subscription.group()
    }

    /// Reclaims idle deliveries (at most every `claim_idle_ms / 2`), then reads and applies
    /// up to [`READS_PER_RUN`] batches, the first read waiting up to `read_block_ms`. The bus
    /// or the database being away is logged once per outage and paused on (the run still
    /// succeeds, so the job does not spin).
    pub async fn run(&mut self) -> Result<(), Error> {
        match self.poll().await {
            Ok(()) => {
                if std::mem::take(&mut self.paused) {
                    tracing::info!(group = self.group(), "consuming resumed");
                }
            }
            Err(failure) => {
                self.stats.pauses.fetch_add(1, Ordering::Relaxed);
                if !std::mem::replace(&mut self.paused, true) {
                    let (what, error) = match failure {
                        Failure::Bus(e) => ("event bus", e.to_string()),
                        Failure::Database(e) => ("database", e.to_string()),
                    };
                    tracing::warn!(group = self.group(), error = %error, "{what} unavailable; consuming paused until it is back");
                }
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
        Ok(())
    }

    async fn poll(&mut self) -> Result<(), Failure> {
        let due = self
            .last_reclaim
            .is_none_or(|t| t.elapsed() >= self.claim_idle / 2);
        if due {
            let claimed = self
                .subscription
                .reclaim(self.claim_idle, self.batch)
                .await?;
            self.last_reclaim = Some(Instant::now());
            for d in claimed {
                self.process(d).await?;
            }
        }
        for i in 0..READS_PER_RUN {
            let block = if i == 0 { self.block } else { Duration::ZERO };
            let batch = self.subscription.read(self.batch, block).await?;
            let full = batch.len() >= self.batch;
            for d in batch {
                self.process(d).await?;
            }
            if !full {
                break;
            }
        }
        Ok(())
    }

    async fn process(&mut self, d: Delivery) -> Result<(), Failure> {
        let event = match d.envelope() {
            Ok(e) => e,
            Err(e) => return self.give_up(&d, &e.to_string()).await,
        };
        let for_other_group = d.replay_for().is_some_and(|g| g != self.group());
        let types = self.handler.event_types();
        if for_other_group || !(types.is_empty() || types.contains(&event.event_type.as_str())) {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(self.subscription.ack(&[d.entry_id]).await?);
        }
        let span = event.span(self.group());
        match self.apply(&event).instrument(span.clone()).await {
            Ok(outcome) => {
                let counter = match outcome {
                    Outcome::Applied => &self.stats.applied,
                    Outcome::Duplicate => &self.stats.duplicates,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                Ok(self.subscription.ack(&[d.entry_id]).await?)
            }
            // Not the event's fault: it stays pending, uncounted, until the database is back.
            Err(e) if e.reason == crate::gate::DATABASE_UNAVAILABLE => Err(Failure::Database(e)),
            Err(e) => {
                self.stats.failures.fetch_add(1, Ordering::Relaxed);
                let error = e.to_string();
                span.in_scope(|| tracing::warn!(deliveries = d.deliveries, max_attempts = self.max_attempts, error = %error, "event handler failed"));
                if d.deliveries >= self.max_attempts {
                    return self.give_up(&d, &error).await;
                }
                Ok(())
            }
        }
    }

    /// Inbox row + handler effects in one transaction, bounded by `handler_timeout_ms`.
    async fn apply(&self, event: &Envelope) -> Result<Outcome, Error> {
        let txn = self.db.begin().await?;
        if !inbox::record(&txn, self.group(), event.id).await? {
            txn.rollback().await?;
            return Ok(Outcome::Duplicate);
        }
        let handled = Caught::new(self.handler.handle(&txn, event));
        let failed = match tokio::time::timeout(self.handler_timeout, handled).await {
            Ok(Ok(Ok(()))) => {
                txn.commit().await?;
                return Ok(Outcome::Applied);
            }
            Ok(Ok(Err(e))) => e,
            Ok(Err(panic)) => Error::internal(anyhow::anyhow!(
                "handler panicked: {} at {}",
                panic.message,
                panic.location
            )),
            Err(_) => Error::internal(anyhow::anyhow!(
                "handler timed out after {} ms",
                self.handler_timeout.as_millis()
            )),
        };
        // The handler's own error is the one to report, not a failed rollback's.
        txn.rollback().await.ok();
        Err(failed)
    }

    async fn give_up(&mut self, d: &Delivery, error: &str) -> Result<(), Failure> {
        self.subscription.dead_letter(d, error).await?;
        self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
        tracing::error!(group = self.group(), stream = self.subscription.stream(), entry = %d.entry_id, deliveries = d.deliveries, error, "event dead-lettered");
        Ok(())
    }
}

/// Why a poll stopped: the bus or the database is unavailable.
enum Failure {
    Bus(BusError),
    Database(Error),
}

impl From<BusError> for Failure {
    fn from(e: BusError) -> Self {
        Self::Bus(e)
    }
}
