//! A batched writer: a bounded queue drained by one task, one write per batch. A batch is
//! written when full, `flush_every` after its first record, or when a caller asks
//! ([`BatchWriter::flush`]); a failing write is retried with backoff (the queue fills behind
//! it, and callers then wait at most `enqueue_wait` before they are refused). At shutdown
//! nothing new is accepted and what is queued is written (a few attempts).
//!
//! Used where a per-call insert would cost more than the call itself: the access audit of
//! reads, the served answers of recommendations.
use crate::error::Error;
use crate::jobs::Jobs;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

/// Bounds of a writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Records queued at most.
    pub capacity: usize,
    /// Records per write at most.
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

/// Why records were not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue stayed full for the whole enqueue wait (the writes are behind).
    Behind,
    /// The writer has stopped (shutdown).
    Stopped,
}

/// Writes one batch (all or nothing); called again with the same records after a failure.
pub type WriteBatch<R> = Arc<dyn Fn(Vec<R>) -> BoxFuture<'static, Result<(), Error>> + Send + Sync>;

/// The queue of one writer. Cheap to clone.
pub struct BatchWriter<R> {
    tx: mpsc::Sender<R>,
    flushes: mpsc::Sender<oneshot::Sender<()>>,
    settings: WriterSettings,
}

impl<R> Clone for BatchWriter<R> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            flushes: self.flushes.clone(),
            settings: self.settings,
        }
    }
}

/// How long [`BatchWriter::flush`] waits for its write.
const FLUSH_WAIT: Duration = Duration::from_secs(5);

impl<R: Clone + Send + Sync + 'static> BatchWriter<R> {
    /// Starts the writer task in `jobs` (it writes what is queued when `jobs` stop); `what`
    /// names the records in its logs.
    pub fn start(
        jobs: &mut Jobs,
        what: &'static str,
        s: WriterSettings,
        write: WriteBatch<R>,
    ) -> Self {
        let s = WriterSettings {
            capacity: s.capacity.max(1),
            batch: s.batch.max(1),
            ..s
        };
        let (tx, rx) = mpsc::channel(s.capacity);
        let (flushes, flush_rx) = mpsc::channel(64);
        let stop = Arc::new(Notify::new());
        let (done_tx, done_rx) = oneshot::channel();
        let task = Task {
            what,
            rx,
            flush_rx,
            settings: s,
            write,
        };
        jobs.spawn(task.run(stop.clone(), done_tx));
        jobs.on_stop(async move {
            stop.notify_one();
            let _ = done_rx.await;
        });
        Self {
            tx,
            flushes,
            settings: s,
        }
    }

    /// Queues `records`, all or none: waits at most the enqueue wait for room.
    pub async fn queue_all(&self, records: Vec<R>) -> Result<(), Refused> {
        let deadline = Instant::now() + self.settings.enqueue_wait;
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            let chunk: Vec<R> = records.by_ref().take(self.settings.capacity).collect();
            let permits = tokio::time::timeout_at(deadline, self.tx.reserve_many(chunk.len()))
                .await
                .map_err(|_| Refused::Behind)?
                .map_err(|_| Refused::Stopped)?;
            for (permit, r) in permits.zip(chunk) {
                permit.send(r);
            }
        }
        Ok(())
    }

    /// Writes what is queued now and returns when it is written (false: not within a few
    /// seconds, or the writer has stopped).
    pub async fn flush(&self) -> bool {
        let (reply, written) = oneshot::channel();
        let asked = async {
            self.flushes.send(reply).await.ok()?;
            written.await.ok()
        };
        matches!(tokio::time::timeout(FLUSH_WAIT, asked).await, Ok(Some(())))
    }

    /// How long a queued record may wait before it is written (when the writes keep up).
    pub fn flush_every(&self) -> Duration {
        self.settings.flush_every
    }
}

struct Task<R> {
    what: &'static str,
    rx: mpsc::Receiver<R>,
    flush_rx: mpsc::Receiver<oneshot::Sender<()>>,
    settings: WriterSettings,
    write: WriteBatch<R>,
}

impl<R: Clone + Send + Sync + 'static> Task<R> {
    async fn run(mut self, stop: Arc<Notify>, done: oneshot::Sender<()>) {
        let s = self.settings;
        let mut batch = Vec::with_capacity(s.batch);
        let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
        'serving: loop {
            tokio::select! {
                biased;
                () = stop.notified() => break 'serving,
                Some(reply) = self.flush_rx.recv() => waiting.push(reply),
                n = self.rx.recv_many(&mut batch, s.batch) => if n == 0 { break 'serving },
            }
            let flush_at = Instant::now() + s.flush_every;
            while batch.len() < s.batch && waiting.is_empty() {
                let room = s.batch - batch.len();
                tokio::select! {
                    biased;
                    () = stop.notified() => break 'serving,
                    Some(reply) = self.flush_rx.recv() => waiting.push(reply),
                    () = tokio::time::sleep_until(flush_at) => break,
                    n = self.rx.recv_many(&mut batch, room) => if n == 0 { break },
                }
            }
            // A flush writes everything queued before it was asked, batch by batch.
            loop {
                self.write_until_done(&mut batch).await;
                if waiting.is_empty() || self.rx.is_empty() {
                    break;
                }
                self.rx.recv_many(&mut batch, s.batch).await;
            }
            for reply in waiting.drain(..) {
                let _ = reply.send(());
            }
        }
        self.rx.close();
        while let Some(r) = self.rx.recv().await {
            batch.push(r);
        }
        for chunk in batch.chunks(s.batch) {
            let mut attempts = 0;
            while let Err(e) = (self.write)(chunk.to_vec()).await {
                attempts += 1;
                if attempts == 3 {
                    tracing::error!(error = %e, what = self.what, lost = chunk.len(), "records lost at shutdown");
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        for reply in waiting {
            let _ = reply.send(());
        }
        let _ = done.send(());
    }

    /// Writes `batch`, retrying with backoff while the database fails, then empties it.
    async fn write_until_done(&self, batch: &mut Vec<R>) {
        if batch.is_empty() {
            return;
        }
        let mut delay = Duration::from_millis(100);
        loop {
            match (self.write)(batch.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, what = self.what, records = batch.len(), retry_ms = delay.as_millis() as u64, "batch not written");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The batches a test writer wrote, in order.
    type Written = Arc<Mutex<Vec<Vec<u32>>>>;

    /// A writer whose writes append to `written` (or never finish while `stuck`).
    fn writer(jobs: &mut Jobs, s: WriterSettings, stuck: bool) -> (BatchWriter<u32>, Written) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = written.clone();
        let write: WriteBatch<u32> = Arc::new(move |b| {
            let sink = sink.clone();
            Box::pin(async move {
                if stuck {
                    std::future::pending::<()>().await;
                }
                sink.lock().expect("lock").push(b);
                Ok(())
            })
        });
        (BatchWriter::start(jobs, "numbers", s, write), written)
    }

    fn hour_long() -> WriterSettings {
        WriterSettings {
            batch: 10,
            flush_every: Duration::from_secs(3600),
            ..WriterSettings::default()
        }
    }

    #[tokio::test]
    async fn a_flush_writes_what_is_queued_before_its_window() {
        let mut jobs = Jobs::new();
        let (w, written) = writer(&mut jobs, hour_long(), false);
        w.queue_all((0..25).collect()).await.expect("queued");
        assert!(w.flush().await, "flushed");
        let batches = written.lock().expect("lock").clone();
        assert_eq!(batches.concat(), (0..25).collect::<Vec<_>>());
        assert!(batches.iter().all(|b| b.len() <= 10), "{batches:?}");
        jobs.stop().await;
    }

    #[tokio::test]
    async fn a_stop_writes_the_rest_and_then_refuses() {
        let mut jobs = Jobs::new();
        let (w, written) = writer(&mut jobs, hour_long(), false);
        w.queue_all((0..5).collect()).await.expect("queued");
        jobs.stop().await;
        assert_eq!(written.lock().expect("lock").concat(), vec![0, 1, 2, 3, 4]);
        assert_eq!(w.queue_all(vec![9]).await, Err(Refused::Stopped));
        assert!(!w.flush().await);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_after_the_wait() {
        let mut jobs = Jobs::new();
        let s = WriterSettings {
            capacity: 2,
            batch: 1,
            enqueue_wait: Duration::from_millis(50),
            ..WriterSettings::default()
        };
        let (w, _) = writer(&mut jobs, s, true);
        // One record is taken into the stuck write, two fill the queue.
        w.queue_all(vec![1]).await.expect("taken");
        tokio::time::sleep(Duration::from_millis(20)).await;
        w.queue_all(vec![2, 3]).await.expect("room for two");
        let started = Instant::now();
        assert_eq!(w.queue_all(vec![4]).await, Err(Refused::Behind));
        assert!(started.elapsed() >= Duration::from_millis(50));
    }
}
