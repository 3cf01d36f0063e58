//! The served log: every answer is kept (`recommendations` table) for RecordFeedback's
//! attribution, written behind in batches by the platform's [`BatchWriter`] so that serving
//! costs no insert per call.
//!
//! - An answer still queued when its feedback arrives: the feedback flushes this replica's
//!   queue first; an answer served by another replica is at most one flush behind, so a
//!   feedback on a young unknown id waits out that flush (plus a margin for clocks) once.
//! - The database too far behind (the queue full): the answer is served at once without its
//!   record (counted, logged at most every 10 s); feedback on it is NOT_FOUND. Serving does
//!   not wait for attribution.
//! - An answer of a customer erased while it was queued is dropped when its batch is written
//!   (the erasure leaves a tombstone, `erased_customers`). A merge does not re-point answers
//!   still queued: they stay under the loser's id (their feedback still attributes).
//! - Shutdown writes what is queued.
use super::RecommendationService;
use crate::domain::RecommendationId;
use crate::domain::serving::Served;
use crate::settings::ServingSettings;
use crate::store;
use crm_platform::batch_writer::{BatchWriter, Refused, WriteBatch, WriterSettings};
use crm_platform::jobs::Jobs;
use sea_orm::{DatabaseConnection, TransactionTrait};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Answers per insert at most.
const BATCH: usize = 500;
/// Added to the flush period for another replica's answer (its clock and its write).
const PEER_MARGIN: Duration = Duration::from_secs(1);

/// The queue of served answers.
#[derive(Clone)]
pub struct ServedLog {
    writer: BatchWriter<Served>,
    dropped: Arc<Dropped>,
}

/// Answers served without their record, and when that was last logged.
#[derive(Default)]
struct Dropped {
    count: AtomicU64,
    logged_at: std::sync::Mutex<Option<Instant>>,
}

/// How often answers served without their record are logged at most (with their count).
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

impl ServedLog {
    pub fn start(db: DatabaseConnection, s: &ServingSettings, jobs: &mut Jobs) -> Self {
        let flush_every = Duration::from_millis(s.served_flush_ms);
        let settings = WriterSettings {
            capacity: s.served_queue as usize,
            batch: BATCH,
            flush_every,
            // A full queue is not waited for: serving does not slow down for attribution.
            enqueue_wait: Duration::ZERO,
        };
        let write: WriteBatch<Served> = Arc::new(move |answers| {
            let db = db.clone();
            Box::pin(async move { write(&db, &answers).await })
        });
        Self {
            writer: BatchWriter::start(jobs, "served answers", settings, write),
            dropped: Arc::default(),
        }
    }

    /// Queues an answer's record; when it cannot be queued the answer goes out without it.
    pub async fn record(&self, served: Served) {
        let Err(why) = self.writer.queue_all(vec![served]).await else {
            return;
        };
        let total = self.dropped.count.fetch_add(1, Ordering::Relaxed) + 1;
        let mut logged = self
            .dropped
            .logged_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if logged.is_none_or(|at| at.elapsed() >= DROP_LOG_EVERY) {
            *logged = Some(Instant::now());
            let why = match why {
                Refused::Behind => "the served log is behind the database",
                Refused::Stopped => "the served log has stopped",
            };
            tracing::warn!(
                why,
                total,
                "served answers not recorded (feedback on them is not found)"
            );
        }
    }

    /// Answers served without their record since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.count.load(Ordering::Relaxed)
    }

    /// Writes what is queued now (false: not within a few seconds).
    pub async fn flush(&self) -> bool {
        self.writer.flush().await
    }
}

/// One batch in one transaction: answers of customers erased since they were served are
/// dropped again before the commit (the erasure could not see them in the queue).
async fn write(db: &DatabaseConnection, answers: &[Served]) -> Result<(), crm_platform::Error> {
    let txn = db.begin().await?;
    store::served::insert_all(&txn, answers).await?;
    let ids: Vec<RecommendationId> = answers
        .iter()
        .filter(|a| a.customer.is_some())
        .map(|a| a.id)
        .collect();
    let dropped = store::served_customers::drop_erased(&txn, &ids).await?;
    txn.commit().await?;
    if dropped > 0 {
        tracing::info!(dropped, "served answers of erased customers dropped");
    }
    Ok(())
}

impl RecommendationService {
    /// Makes a recently served answer readable before its feedback is attributed: flushes
    /// this replica's queue when the answer is not stored yet, and waits out another
    /// replica's flush for an id younger than that.
    pub(super) async fn settle_served(
        &self,
        id: RecommendationId,
    ) -> Result<(), crm_platform::Error> {
        if store::served::find(self.db(), id).await?.is_some() {
            return Ok(());
        }
        let log = self.served_log();
        log.flush().await;
        let window = log.writer.flush_every() + PEER_MARGIN;
        if let Some(age) = age_of(id)
            && age < window
            && store::served::find(self.db(), id).await?.is_none()
        {
            tokio::time::sleep(window - age).await;
        }
        Ok(())
    }
}

/// How long ago `id` was generated (its UUIDv7 time; None: not such an id, or ahead of
/// this clock by more than the margin).
fn age_of(id: RecommendationId) -> Option<Duration> {
    let (secs, nanos) = id.0.get_timestamp()?.to_unix();
    let at = std::time::UNIX_EPOCH + Duration::new(secs, nanos);
    match std::time::SystemTime::now().duration_since(at) {
        Ok(age) => Some(age),
        Err(ahead) if ahead.duration() < PEER_MARGIN => Some(Duration::ZERO),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_id_is_young_and_a_foreign_one_has_no_age() {
        let age = age_of(RecommendationId::generate()).expect("v7");
        assert!(age < Duration::from_secs(1), "{age:?}");
        assert_eq!(age_of(RecommendationId(uuid::Uuid::nil())), None);
    }
}
