//! The batched writer of read records: a bounded queue drained by one task, one insert per
//! batch. A full queue (the database slower than the reads, or away) makes callers wait at
//! most [`WriterSettings::enqueue_wait`], then refuses them: no unaudited reads.
use super::{AUDIT_BACKLOG, AccessRecord, record_in};
use crate::error::{Error, ErrorCode};
use crate::jobs::Jobs;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

/// Bounds of the writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Records queued at most.
    pub capacity: usize,
    /// Records per insert at most.
    pub batch: usize,
    /// Longest a queued record waits for its batch to fill.
    pub flush_every: Duration,
    /// Longest a caller waits for room in a full queue.
    pub enqueue_wait: Duration,
}

impl Default for WriterSettings {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            batch: 500,
            flush_every: Duration::from_millis(200),
            enqueue_wait: Duration::from_secs(1),
        }
    }
}

/// The access audit of one service: records reads through the queue, and lists.
/// Cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    pub(super) tx: mpsc::Sender<AccessRecord>,
    pub(super) settings: WriterSettings,
    pub(super) db: DatabaseConnection,
}

impl AccessLog {
    /// Starts the writer on `db` in `jobs` (flushed when `jobs` stop).
    pub fn start(db: DatabaseConnection, jobs: &mut Jobs) -> Self {
        Self::with_settings(db, jobs, WriterSettings::default())
    }

    pub fn with_settings(db: DatabaseConnection, jobs: &mut Jobs, s: WriterSettings) -> Self {
        let s = WriterSettings {
            capacity: s.capacity.max(1),
            batch: s.batch.max(1),
            ..s
        };
        let (tx, rx) = mpsc::channel(s.capacity);
        let stop = Arc::new(Notify::new());
        let (done_tx, done_rx) = oneshot::channel();
        jobs.spawn(run(db.clone(), rx, s, stop.clone(), done_tx));
        jobs.on_stop(async move {
            stop.notify_one();
            let _ = done_rx.await;
        });
        Self {
            tx,
            settings: s,
            db,
        }
    }

    /// The database the records are in (for [`record_in`] and listing).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Queues one read record.
    pub async fn record(&self, record: AccessRecord) -> Result<(), Error> {
        self.record_all(vec![record]).await
    }

    /// Queues `records` (one call's reads), all or none: waits at most the enqueue wait for
    /// room, else UNAVAILABLE with reason [`AUDIT_BACKLOG`].
    pub async fn record_all(&self, records: Vec<AccessRecord>) -> Result<(), Error> {
        let deadline = Instant::now() + self.settings.enqueue_wait;
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            let chunk: Vec<AccessRecord> = records.by_ref().take(self.settings.capacity).collect();
            let permits = tokio::time::timeout_at(deadline, self.tx.reserve_many(chunk.len()))
                .await
                .map_err(|_| backlog("the access audit is behind"))?
                .map_err(|_| backlog("the access audit writer has stopped"))?;
            for (permit, r) in permits.zip(chunk) {
                permit.send(r);
            }
        }
        Ok(())
    }
}

fn backlog(why: &str) -> Error {
    tracing::warn!(why, "read refused: its access record cannot be queued");
    Error::new(
        ErrorCode::Unavailable,
        AUDIT_BACKLOG,
        "the access audit cannot record this read now; retry with backoff",
    )
}

/// Batches of at most `s.batch` records, each written when full or `s.flush_every` after
/// its first record; at `stop`, whatever is queued is written and `done` is sent.
async fn run(
    db: DatabaseConnection,
    mut rx: mpsc::Receiver<AccessRecord>,
    s: WriterSettings,
    stop: Arc<Notify>,
    done: oneshot::Sender<()>,
) {
    let mut batch = Vec::with_capacity(s.batch);
    'serving: loop {
        tokio::select! {
            biased;
            () = stop.notified() => break 'serving,
            n = rx.recv_many(&mut batch, s.batch) => if n == 0 { break 'serving },
        }
        let flush_at = Instant::now() + s.flush_every;
        while batch.len() < s.batch {
            let room = s.batch - batch.len();
            tokio::select! {
                biased;
                () = stop.notified() => break 'serving,
                () = tokio::time::sleep_until(flush_at) => break,
                n = rx.recv_many(&mut batch, room) => if n == 0 { break },
            }
        }
        write_until_done(&db, &mut batch).await;
    }
    // Shutdown: nothing new is accepted; what is queued is written (a few attempts).
    rx.close();
    while let Some(r) = rx.recv().await {
        batch.push(r);
    }
    for chunk in batch.chunks(s.batch) {
        let mut attempts = 0;
        while let Err(e) = record_in(&db, chunk.iter().cloned()).await {
            attempts += 1;
            if attempts == 3 {
                tracing::error!(error = %e, lost = chunk.len(), "access records lost at shutdown");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let _ = done.send(());
}

/// Writes `batch`, retrying with backoff while the database fails (the queue fills behind it
/// and reads are refused meanwhile), then empties it.
async fn write_until_done(db: &DatabaseConnection, batch: &mut Vec<AccessRecord>) {
    let mut delay = Duration::from_millis(100);
    loop {
        match record_in(db, batch.iter().cloned()).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(error = %e, records = batch.len(), retry_ms = delay.as_millis() as u64, "access records not written");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    batch.clear();
}
