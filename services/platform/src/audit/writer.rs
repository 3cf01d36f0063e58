//! The access audit's reads go through a [`BatchWriter`] (one insert per batch). A full queue
//! (the database slower than the reads, or away) makes callers wait at most
//! [`WriterSettings::enqueue_wait`], then refuses them: no unaudited reads.
use super::{AUDIT_BACKLOG, AccessRecord, record_in};
pub use crate::batch_writer::WriterSettings;
use crate::batch_writer::{BatchWriter, Refused, WriteBatch};
use crate::error::{Error, ErrorCode};
use crate::jobs::Jobs;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

/// The access audit of one service: records reads through the queue, and lists.
/// Cheap to clone.
#[derive(Clone)]
pub struct AccessLog {
    writer: BatchWriter<AccessRecord>,
    db: DatabaseConnection,
}

impl AccessLog {
    /// Starts the writer on `db` in `jobs` (flushed when `jobs` stop).
    pub fn start(db: DatabaseConnection, jobs: &mut Jobs) -> Self {
        Self::with_settings(db, jobs, WriterSettings::default())
    }

    pub fn with_settings(db: DatabaseConnection, jobs: &mut Jobs, s: WriterSettings) -> Self {
        let conn = db.clone();
        let write: WriteBatch<AccessRecord> = Arc::new(move |records| {
            let conn = conn.clone();
            Box::pin(async move { record_in(&conn, records).await })
        });
        Self {
            writer: BatchWriter::start(jobs, "access records", s, write),
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
        self.writer.queue_all(records).await.map_err(|r| match r {
            Refused::Behind => backlog("the access audit is behind"),
            Refused::Stopped => backlog("the access audit writer has stopped"),
        })
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
