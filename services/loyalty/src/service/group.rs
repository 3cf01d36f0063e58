//! Group commit: concurrent single-wallet writes share one database transaction, so one
//! durable commit (one WAL flush) acknowledges many calls.
//!
//! Nobody is answered before the shared commit: a reply is a durable acknowledgement. No
//! savepoints (they would cost two round trips per call): a refused call rolls the batch
//! back and is answered alone, and the rest go again. A wallet always goes to the same
//! writer, and every transaction locks wallets in ascending id order, so writers and the
//! per-call paths cannot deadlock. When the shared transaction fails as a whole, each call
//! is written on its own.
//!
//! One bad call never fails another: each call is applied under `caught`, so a panic
//! while applying it (a bug) answers that call INTERNAL, rolls the batch back and the rest
//! go again without it. A writer that dies anyway is restarted by `supervise`; the calls
//! it held are answered UNAVAILABLE (their reply channels close), the queue is kept.
use super::isolation::{caught, guarded, supervise};
use super::session::{Session, Write};
use super::writer::{Carried, open_many};
use super::{LoyaltyService, Posted};
use crate::domain::CustomerId;
use crm_platform::idempotency::{self, IdempotencyKey};
use crm_platform::{Error, ErrorCode};
use futures::future::BoxFuture;
use sea_orm::{DatabaseTransaction, TransactionTrait};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// How a writer applies one call of a batch inside the shared transaction (the service's
/// [`LoyaltyService::apply_claimed`]; a function, so tests can give one that panics).
pub(super) type ApplyFn = for<'a> fn(
    &'a LoyaltyService,
    &'a DatabaseTransaction,
    &'a mut Session,
    &'a IdempotencyKey,
    &'a Write,
) -> BoxFuture<'a, Result<Posted, Error>>;

fn apply_claimed<'a>(
    svc: &'a LoyaltyService,
    txn: &'a DatabaseTransaction,
    session: &'a mut Session,
    key: &'a IdempotencyKey,
    w: &'a Write,
) -> BoxFuture<'a, Result<Posted, Error>> {
    Box::pin(svc.apply_claimed(txn, session, key, w))
}

struct Job {
    key: IdempotencyKey,
    write: Write,
    reply: oneshot::Sender<Result<Posted, Error>>,
}

/// Queued jobs a writer may hold beyond one batch before callers wait to enqueue.
const QUEUE_PER_WRITER: usize = 1024;

pub(super) struct GroupCommit {
    writers: Vec<mpsc::Sender<Job>>,
}

/// A writer's queue, taken again by the writer restarted after a panic.
type Queue = Arc<Mutex<mpsc::Receiver<Job>>>;

impl GroupCommit {
    pub fn start(svc: &LoyaltyService) -> Self {
        Self::start_with(svc, apply_claimed)
    }

    /// Spawns the writers, each supervised (restarted when it panics), applying calls with
    /// `apply`. They own a copy of the service without group commit (the direct path), so
    /// they stop when the last handle to this `GroupCommit` is dropped.
    pub(super) fn start_with(svc: &LoyaltyService, apply: ApplyFn) -> Self {
        let max_batch = svc.cfg.group_commit_max_batch;
        let writers = (0..svc.cfg.group_commit_writers)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE_PER_WRITER);
                let queue: Queue = Arc::new(Mutex::new(rx));
                let direct = LoyaltyService {
                    group: None,
                    ..svc.clone()
                };
                tokio::spawn(supervise("group commit writer", move || {
                    run_writer(direct.clone(), queue.clone(), max_batch, apply)
                }));
                tx
            })
            .collect();
        Self { writers }
    }

    pub async fn submit(&self, key: IdempotencyKey, write: Write) -> Result<Posted, Error> {
        let writer = &self.writers[writer_of(write.customer(), self.writers.len())];
        let (reply, answer) = oneshot::channel();
        writer
            .send(Job { key, write, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn writer_of(customer: CustomerId, writers: usize) -> usize {
    // UUIDv7's low bits are random, so they spread wallets evenly.
    (customer.0.as_u128() % writers as u128) as usize
}

/// The writer went away before answering: the service is stopping, or the writer died
/// holding the call and was restarted. A retry with the same request id is safe: it
/// replays the call if it was committed after all.
fn stopped() -> Error {
    Error::new(
        ErrorCode::Unavailable,
        "UNAVAILABLE",
        "the ledger writer stopped before answering; retry",
    )
}

/// Takes whatever is queued (up to `max`), commits it as one batch, repeats. No timer: a
/// lone call is written at once, and batches grow only while the database is busy.
async fn run_writer(svc: LoyaltyService, queue: Queue, max: usize, apply: ApplyFn) {
    let mut rx = queue.lock().await;
    let mut queued: VecDeque<Job> = VecDeque::new();
    loop {
        if queued.is_empty() {
            match rx.recv().await {
                Some(job) => queued.push_back(job),
                None => return,
            }
        }
        while queued.len() < max {
            match rx.try_recv() {
                Ok(job) => queued.push_back(job),
                Err(_) => break,
            }
        }
        let batch = take_batch(&mut queued, max);
        // In a task of its own as a last line of defence: a panic outside the guarded parts
        // fails this batch's callers (they see UNAVAILABLE and may retry), not the writer.
        let svc = svc.clone();
        if let Err(e) = tokio::spawn(async move { commit_batch(&svc, batch, apply).await }).await {
            tracing::error!(error = %e, "group commit batch panicked");
        }
    }
}

/// Up to `max` jobs with distinct request ids (a repeated id waits for the next batch, where
/// it replays the first one's committed result), sorted by wallet so locks are taken in
/// one global order; a wallet's jobs keep their arrival order.
fn take_batch(queued: &mut VecDeque<Job>, max: usize) -> Vec<Job> {
    let mut batch = Vec::with_capacity(max.min(queued.len()));
    let mut ids = HashSet::new();
    let mut later = VecDeque::new();
    while let Some(job) = queued.pop_front() {
        if batch.len() < max && ids.insert(job.key.request_id.to_string()) {
            batch.push(job);
        } else {
            later.push_back(job);
        }
    }
    *queued = later;
    batch.sort_by_key(|j| j.write.customer().0);
    batch
}

/// A committed batch: each call's result, the wallets to drop from the cache, their states.
type Committed = (Vec<Posted>, Vec<CustomerId>, HashMap<CustomerId, Carried>);

/// Refused calls in one batch before the rest are written one by one.
const MAX_REFUSALS: usize = 3;

/// Why a batch did not commit.
enum Failure {
    /// Call `index` was refused (answered from a run of its own) or panicked (answered
    /// with `panicked`, not run again).
    Call {
        index: usize,
        panicked: Option<Error>,
    },
    /// The transaction itself failed: each call is written on its own.
    Batch,
}

/// Writes the batch in one transaction. A call that fails (a refusal like too few points,
/// or a database error) rolls the batch back; that call is then answered from a run of its
/// own on committed state, and the others are tried again together. A call that panics is
/// answered INTERNAL and the others go again.
async fn commit_batch(svc: &LoyaltyService, mut batch: Vec<Job>, apply: ApplyFn) {
    let mut refusals = 0;
    while refusals < MAX_REFUSALS {
        if batch.is_empty() {
            return;
        }
        let attempt = caught("group commit batch", try_batch(svc, &batch, apply)).await;
        match attempt.unwrap_or(Err(Failure::Batch)) {
            Ok((values, touched, carried)) => {
                svc.warm.keep(carried);
                svc.invalidate(&touched).await;
                for (job, value) in batch.into_iter().zip(values) {
                    // The caller may have gone (deadline, cancel); the write stands.
                    let _ = job.reply.send(Ok(value));
                }
                return;
            }
            Err(Failure::Call {
                index,
                panicked: Some(e),
            }) => {
                let _ = batch.remove(index).reply.send(Err(e));
            }
            Err(Failure::Call {
                index,
                panicked: None,
            }) => {
                refusals += 1;
                let job = batch.remove(index);
                let result = apply_alone(svc, &job).await;
                let _ = job.reply.send(result);
            }
            Err(Failure::Batch) => break,
        }
    }
    for job in batch {
        let result = apply_alone(svc, &job).await;
        let _ = job.reply.send(result);
    }
}

async fn apply_alone(svc: &LoyaltyService, job: &Job) -> Result<Posted, Error> {
    guarded("ledger write", svc.apply_alone(&job.key, &job.write)).await
}

/// Commits the batch, or says which call (or the transaction) failed.
async fn try_batch(
    svc: &LoyaltyService,
    batch: &[Job],
    apply: ApplyFn,
) -> Result<Committed, Failure> {
    let txn = svc.core.db.begin().await.map_err(|e| {
        tracing::warn!(error = %e, "group commit could not begin");
        Failure::Batch
    })?;
    let keys: Vec<IdempotencyKey> = batch.iter().map(|j| j.key.clone()).collect();
    let claims = idempotency::claim_many::<Posted>(&txn, &keys)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "group commit could not claim its request ids");
            Failure::Batch
        })?;
    let mut fresh: Vec<CustomerId> = batch
        .iter()
        .zip(&claims)
        .filter(|(_, c)| matches!(c, Ok(None)))
        .map(|(j, _)| j.write.customer())
        .collect();
    fresh.sort_by_key(|c| c.0);
    fresh.dedup();
    let preloaded = open_many(&txn, svc.program(), &fresh, &svc.warm)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "group commit could not lock its wallets");
            Failure::Batch
        })?;
    let mut session = Session::preloaded(preloaded);
    let mut values = Vec::with_capacity(batch.len());
    for (index, (job, claim)) in batch.iter().zip(claims).enumerate() {
        let (applied, panicked) = match claim {
            Ok(None) => {
                let run = apply(svc, &txn, &mut session, &job.key, &job.write);
                match caught("ledger write in a group commit", run).await {
                    Ok(applied) => (applied, false),
                    Err(message) => {
                        let e = anyhow::anyhow!("ledger write panicked: {message}");
                        (Err(Error::internal(e)), true)
                    }
                }
            }
            Ok(Some(previous)) => (Ok(previous), false),
            Err(e) => (Err(e), false),
        };
        match applied {
            Ok(v) => values.push(v),
            Err(e) => {
                if let Err(e) = txn.rollback().await {
                    tracing::warn!(error = %e, "group commit rollback failed");
                }
                let panicked = panicked.then_some(e);
                return Err(Failure::Call { index, panicked });
            }
        }
    }
    let written = match session.flush(&txn, &svc.events).await {
        Ok(()) => txn.commit().await.map_err(Error::from),
        Err(e) => Err(e),
    };
    written.map_err(|e| {
        tracing::warn!(error = %e, calls = batch.len(), "group commit failed; writing each call alone");
        Failure::Batch
    })?;
    let touched = std::mem::take(&mut session.touched);
    Ok((values, touched, session.into_carried()))
}

#[cfg(test)]
mod tests;
