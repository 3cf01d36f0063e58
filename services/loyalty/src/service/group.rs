//! Group commit: concurrent single-wallet writes share one database transaction, so one
//! durable commit (one WAL flush) acknowledges many calls.
//!
//! Nobody is answered before the shared commit: a reply is a durable acknowledgement. No
//! savepoints (they would cost two round trips per call): a refused call rolls the batch
//! back and is answered alone, and the rest go again. A wallet always goes to the same
//! writer, and every transaction locks wallets in ascending id order, so writers and the
//! per-call paths cannot deadlock. When the shared transaction fails as a whole, each call
//! is written on its own.
use super::session::{Session, Write};
use super::writer::{Carried, open_many};
use super::{LoyaltyService, Posted};
use crate::domain::CustomerId;
use crm_platform::idempotency::{self, IdempotencyKey};
use crm_platform::{Error, ErrorCode};
use sea_orm::TransactionTrait;
use std::collections::{HashMap, HashSet, VecDeque};
use tokio::sync::{mpsc, oneshot};

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

impl GroupCommit {
    /// Spawns the writers. They own a copy of the service without group commit (the
    /// direct path), so they stop when the last handle to this `GroupCommit` is dropped.
    pub fn start(svc: &LoyaltyService) -> Self {
        let max_batch = svc.cfg.group_commit_max_batch;
        let writers = (0..svc.cfg.group_commit_writers)
            .map(|_| {
                let (tx, rx) = mpsc::channel(QUEUE_PER_WRITER);
                let direct = LoyaltyService {
                    group: None,
                    ..svc.clone()
                };
                tokio::spawn(run_writer(direct, rx, max_batch));
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

fn stopped() -> Error {
    Error::new(
        ErrorCode::Unavailable,
        "SHUTTING_DOWN",
        "the ledger writer stopped; retry",
    )
}

/// Takes whatever is queued (up to `max`), commits it as one batch, repeats. No timer: a
/// lone call is written at once, and batches grow only while the database is busy.
async fn run_writer(svc: LoyaltyService, mut rx: mpsc::Receiver<Job>, max: usize) {
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
        // In a task of its own, so a bug that panics fails this batch's callers (they see
        // UNAVAILABLE and may retry) instead of stopping the writer.
        let svc = svc.clone();
        if let Err(e) = tokio::spawn(async move { commit_batch(&svc, batch).await }).await {
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

/// Writes the batch in one transaction. A call that fails (a refusal like too few points,
/// or a database error) rolls the batch back; that call is then answered from a run of its
/// own on committed state, and the others are tried again together.
async fn commit_batch(svc: &LoyaltyService, mut batch: Vec<Job>) {
    for _ in 0..MAX_REFUSALS {
        if batch.is_empty() {
            return;
        }
        match try_batch(svc, &batch).await {
            Ok((values, touched, carried)) => {
                svc.warm.keep(carried);
                svc.invalidate(&touched).await;
                for (job, value) in batch.into_iter().zip(values) {
                    // The caller may have gone (deadline, cancel); the write stands.
                    let _ = job.reply.send(Ok(value));
                }
                return;
            }
            Err(Some(failed)) => {
                let job = batch.remove(failed);
                let result = svc.apply_alone(&job.key, &job.write).await;
                let _ = job.reply.send(result);
            }
            Err(None) => break,
        }
    }
    for job in batch {
        let result = svc.apply_alone(&job.key, &job.write).await;
        let _ = job.reply.send(result);
    }
}

/// `Err(Some(i))`: call `i` failed; `Err(None)`: the transaction itself failed.
async fn try_batch(svc: &LoyaltyService, batch: &[Job]) -> Result<Committed, Option<usize>> {
    let txn = svc.db.begin().await.map_err(|e| {
        tracing::warn!(error = %e, "group commit could not begin");
        None
    })?;
    let keys: Vec<IdempotencyKey> = batch.iter().map(|j| j.key.clone()).collect();
    let claims = idempotency::claim_many::<Posted>(&txn, &keys)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "group commit could not claim its request ids");
            None
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
            None
        })?;
    let mut session = Session::preloaded(preloaded);
    let mut values = Vec::with_capacity(batch.len());
    for (i, (job, claim)) in batch.iter().zip(claims).enumerate() {
        let applied = match claim {
            Ok(None) => {
                svc.apply_claimed(&txn, &mut session, &job.key, &job.write)
                    .await
            }
            Ok(Some(previous)) => Ok(previous),
            Err(e) => Err(e),
        };
        match applied {
            Ok(v) => values.push(v),
            Err(_) => {
                if let Err(e) = txn.rollback().await {
                    tracing::warn!(error = %e, "group commit rollback failed");
                }
                return Err(Some(i));
            }
        }
    }
    let written = match session.flush(&txn).await {
        Ok(()) => txn.commit().await.map_err(Error::from),
        Err(e) => Err(e),
    };
    written.map_err(|e| {
        tracing::warn!(error = %e, calls = batch.len(), "group commit failed; writing each call alone");
        None
    })?;
    let touched = std::mem::take(&mut session.touched);
    Ok((values, touched, session.into_carried()))
}
