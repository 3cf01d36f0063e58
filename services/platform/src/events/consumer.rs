//! The consumer runner: reads a group's deliveries and applies each exactly once.
//!
//! The deliveries of one read (up to `consumer_batch`) are applied in one transaction: the
//! inbox rows (consumer group, event id) of all of them, written with one statement, and the
//! handler's effects for each (order below); it commits (one WAL flush for the batch),
//! then the entries are acknowledged with one `XACK`. So:
//! - within a batch, events are applied grouped by subject in subject order, each subject's
//!   in stream order, so handlers locking their subject's rows lock in one global order
//!   (the fresh ones handed to [`Handler::handle_batch`] at once; [`Handler::committed`] is
//!   told of them after the commit);
//! - a delivery seen again (ack lost, entry reclaimed, two replicas racing, a second copy in
//!   the same read) finds its inbox row and is only acknowledged; on PostgreSQL the second
//!   insert waits for the first transaction, so two replicas never both apply it (their
//!   batches insert inbox rows in event id order, so they do not deadlock on them);
//! - a batch that fails (any handler error, a panic, the batch running past
//!   `handler_timeout_ms`, a failed commit) is rolled back whole and its deliveries are
//!   applied again one transaction each, so a poison event fails alone and never holds back
//!   or fails the others;
//! - a handler error in its own transaction (a panic or `handler_timeout_ms` included) rolls
//!   everything back and leaves the entry pending: after `claim_idle_ms` a replica (this one
//!   too) reclaims and retries it; the failure of its `max_attempts`-th delivery sends it to
//!   the dead-letter stream with the error, where it no longer blocks anything. Deliveries
//!   that never finished (a crash) count too, so the first failure after more sends it there
//!   at once;
//! - the database being unreachable is no failure of the event: it stays pending and the
//!   consumer pauses until the database answers;
//! - an entry that is no envelope goes to the dead letters at once.
//!
//! A consumer handles its deliveries in stream order; entries of one subject reach the
//! handler in order unless a retry or another replica interleaves them, so handlers tolerate
//! out-of-order arrival (compare versions or times in the payload).
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
    /// retries the event later; it must not call the producer synchronously. Several events
    /// of one read may share `txn` (each sees the effects of those before it); the first
    /// error rolls them all back and each is then retried in a transaction of its own.
    fn handle(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Applies the fresh events of one read in `txn` (their inbox rows are in it), in the
    /// order given (by subject, each subject's in stream order). The default applies them
    /// one [`Handler::handle`] at a time; a handler overrides it to share reads and writes
    /// across events, with the same effects as one by one. An error rolls them all back and
    /// each is then retried alone through `handle`.
    fn handle_batch(
        &self,
        txn: &DatabaseTransaction,
        events: &[&Envelope],
    ) -> impl Future<Output = Result<(), Error>> + Send {
        async move {
            for event in events {
                self.handle(txn, event).await?;
            }
            Ok(())
        }
    }

    /// Called once the transaction that applied `events` has committed (only those applied
    /// in it: never duplicates, skipped types or a rolled-back transaction's), before they
    /// are acknowledged: where a handler drops caches of what the events changed, which a
    /// read between a drop inside the transaction and its commit could have filled with the
    /// state before. It cannot fail the events (they are durable); a panic is logged.
    fn committed(&self, events: &[&Envelope]) -> impl Future<Output = ()> + Send {
        let _ = events;
        async {}
    }
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
    /// Transactions that applied several deliveries of one read together (committed).
    pub batches: AtomicU64,
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
            self.process(claimed).await?;
        }
        for i in 0..READS_PER_RUN {
            let block = if i == 0 { self.block } else { Duration::ZERO };
            let batch = self.subscription.read(self.batch, block).await?;
            let full = batch.len() >= self.batch;
            self.process(batch).await?;
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// One read's deliveries: those for this group applied in one transaction (one at a time
    /// if that fails), the others acknowledged unread or dead-lettered.
    async fn process(&mut self, deliveries: Vec<Delivery>) -> Result<(), Failure> {
        let mut wanted = Vec::with_capacity(deliveries.len());
        let mut unread = Vec::new();
        for d in deliveries {
            let event = match d.envelope() {
                Ok(e) => e,
                Err(e) => {
                    self.give_up(&d, &e.to_string()).await?;
                    continue;
                }
            };
            let for_other_group = d.replay_for().is_some_and(|g| g != self.group());
            let types = self.handler.event_types();
            if for_other_group || !(types.is_empty() || types.contains(&event.event_type.as_str()))
            {
                unread.push(d.entry_id);
            } else {
                wanted.push((d, event));
            }
        }
        if !unread.is_empty() {
            self.stats
                .skipped
                .fetch_add(unread.len() as u64, Ordering::Relaxed);
            self.subscription.ack(&unread).await?;
        }
        if wanted.len() > 1 {
            match self.apply_batch(&wanted).await {
                Ok(outcomes) => {
                    self.stats.batches.fetch_add(1, Ordering::Relaxed);
                    for outcome in outcomes {
                        self.count(outcome);
                    }
                    let ids: Vec<String> = wanted.into_iter().map(|(d, _)| d.entry_id).collect();
                    return Ok(self.subscription.ack(&ids).await?);
                }
                Err(e) if e.reason == crate::gate::DATABASE_UNAVAILABLE => {
                    return Err(Failure::Database(e));
                }
                Err(e) => {
                    tracing::debug!(group = self.group(), deliveries = wanted.len(), error = %e, "event batch failed; applying its events one at a time");
                }
            }
        }
        for (d, event) in wanted {
            self.process_one(d, event).await?;
        }
        Ok(())
    }

    fn count(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Applied => &self.stats.applied,
            Outcome::Duplicate => &self.stats.duplicates,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// One delivery in a transaction of its own; a failure counts against it.
    async fn process_one(&mut self, d: Delivery, event: Envelope) -> Result<(), Failure> {
        let span = event.span(self.group());
        match self.apply(&event).instrument(span.clone()).await {
            Ok(outcome) => {
                self.count(outcome);
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
        let handled = self.bounded(self.handler.handle(&txn, event)).await;
        finish(txn, handled).await?;
        self.committed(&[event]).await;
        Ok(Outcome::Applied)
    }

    /// The inbox rows of `batch` (one statement) and the effects of those not in the inbox
    /// yet, in order, in one transaction bounded as a whole by `handler_timeout_ms`.
    async fn apply_batch(&self, batch: &[(Delivery, Envelope)]) -> Result<Vec<Outcome>, Error> {
        let txn = self.db.begin().await?;
        let ids: Vec<uuid::Uuid> = batch.iter().map(|(_, e)| e.id).collect();
        let mut fresh = match inbox::record_all(&txn, self.group(), &ids).await {
            Ok(fresh) => fresh,
            Err(e) => {
                txn.rollback().await.ok();
                return Err(e);
            }
        };
        // By subject, each subject's events in stream order (a stable sort; events of
        // different subjects have no order to keep): handlers that lock their subject's rows
        // take them in one global order, so two batches, or a batch and a writer that locks
        // in that order, wait for each other instead of deadlocking.
        let mut in_order: Vec<&Envelope> = batch.iter().map(|(_, e)| e).collect();
        in_order.sort_by(|a, b| a.subject.cmp(&b.subject));
        // A second copy of an event in one read finds its id taken by the first.
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut applied = Vec::with_capacity(batch.len());
        for event in in_order {
            if fresh.remove(&event.id) {
                applied.push(event);
                outcomes.push(Outcome::Applied);
            } else {
                outcomes.push(Outcome::Duplicate);
            }
        }
        let span = tracing::info_span!("events", consumer = self.group(), events = applied.len());
        let work = self.handler.handle_batch(&txn, &applied).instrument(span);
        let handled = self.bounded(work).await;
        finish(txn, handled).await?;
        self.committed(&applied).await;
        Ok(outcomes)
    }

    /// The handler's [`Handler::committed`] for `events` (none: not called), a panic in it
    /// logged: the events are durable, so it fails nothing.
    async fn committed(&self, events: &[&Envelope]) {
        if events.is_empty() {
            return;
        }
        if let Err(panic) = Caught::new(self.handler.committed(events)).await {
            tracing::error!(group = self.group(), message = %panic.message, location = %panic.location, "event commit hook panicked");
        }
    }

    /// `work` with its panic and its running past `handler_timeout_ms` as errors.
    async fn bounded<T>(&self, work: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        match tokio::time::timeout(self.handler_timeout, Caught::new(work)).await {
            Ok(Ok(out)) => out,
            Ok(Err(panic)) => Err(Error::internal(anyhow::anyhow!(
                "handler panicked: {} at {}",
                panic.message,
                panic.location
            ))),
            Err(_) => Err(Error::internal(anyhow::anyhow!(
                "handler timed out after {} ms",
                self.handler_timeout.as_millis()
            ))),
        }
    }

    async fn give_up(&mut self, d: &Delivery, error: &str) -> Result<(), Failure> {
        self.subscription.dead_letter(d, error).await?;
        self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
        tracing::error!(group = self.group(), stream = self.subscription.stream(), entry = %d.entry_id, deliveries = d.deliveries, error, "event dead-lettered");
        Ok(())
    }
}

/// Commits `txn` when `handled` succeeded, else rolls it back and returns the handler's
/// error (not a failed rollback's: that one is the one to report).
async fn finish<T>(txn: DatabaseTransaction, handled: Result<T, Error>) -> Result<T, Error> {
    match handled {
        Ok(v) => {
            txn.commit().await?;
            Ok(v)
        }
        Err(e) => {
            txn.rollback().await.ok();
            Err(e)
        }
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
