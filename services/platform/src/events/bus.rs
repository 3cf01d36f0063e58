//! [`EventBus`]: append-only streams with consumer groups, on Redis Streams or in process
//! (chosen by `events.redis_url`, like the cache). Both backends have the same semantics:
//! - a stream keeps its newest `stream_max_len` entries (`XADD ... MAXLEN ~`);
//! - a group reads each entry once (`XREADGROUP ... >`), from the oldest entry kept when the
//!   group is created; a read entry is pending until acknowledged (`XACK`);
//! - a pending entry idle longer than a timeout can be reclaimed by any consumer of the group
//!   (`XAUTOCLAIM`), counting one more delivery; a reclaimed entry trimmed meanwhile is dropped;
//! - a dead letter is added to `{stream}:dead` with the error and acknowledged, atomically;
//!   [`EventBus::replay`] moves dead letters back onto their stream, for their group only.
pub use super::entry::{DeadLetter, Delivery, TimeRange, dead_letter_stream};
use super::envelope::{Envelope, Fields};
use super::memory::MemoryBus;
use super::redis_streams::{RedisBus, RedisReader};
use crate::config::EventsSettings;
use std::sync::Arc;
use std::time::Duration;

/// The bus could not be reached or answered badly; the caller retries later.
#[derive(Debug, Clone, thiserror::Error)]
#[error("event bus: {0}")]
pub struct BusError(pub String);

impl From<redis::RedisError> for BusError {
    fn from(e: redis::RedisError) -> Self {
        Self(e.to_string())
    }
}

/// Streams of named fields with consumer groups; clones share connections (see the module
/// docs for the semantics both backends keep).
#[derive(Clone)]
pub struct EventBus {
    backend: Arc<Backend>,
}

enum Backend {
    Memory(Arc<MemoryBus>),
    Redis(RedisBus),
}

/// Most dead letters one replay call moves per round trip.
const REPLAY_BATCH: usize = 100;

impl EventBus {
    /// Redis Streams when `settings.redis_url` is set, else the process's in-process bus
    /// (shared by every service of the process, as a Redis would be).
    pub fn from_settings(settings: &EventsSettings) -> anyhow::Result<Self> {
        let backend = if settings.redis_url.is_empty() {
            Backend::Memory(MemoryBus::process())
        } else {
            let timeout = Duration::from_millis(settings.redis_timeout_ms);
            Backend::Redis(RedisBus::new(settings.redis_url.expose(), timeout)?)
        };
        tracing::info!(
            backend = if settings.redis_url.is_empty() {
                "in-process"
            } else {
                "redis"
            },
            "event bus ready"
        );
        Ok(Self {
            backend: Arc::new(backend),
        })
    }

    /// A bus of its own (tests of the in-process semantics).
    #[cfg(test)]
    pub(super) fn isolated_in_process() -> Self {
        Self {
            backend: Arc::new(Backend::Memory(Arc::new(MemoryBus::default()))),
        }
    }

    /// Appends `events` to `stream` in order, keeping about `max_len` entries; returns their ids.
    pub async fn publish(
        &self,
        stream: &str,
        events: &[Envelope],
        max_len: u64,
    ) -> Result<Vec<String>, BusError> {
        let entries: Vec<Fields> = events.iter().map(Envelope::to_fields).collect();
        self.append(stream, entries, max_len).await
    }

    /// Appends raw entries (tests add entries that are not envelopes).
    pub(super) async fn append(
        &self,
        stream: &str,
        entries: Vec<Fields>,
        max_len: u64,
    ) -> Result<Vec<String>, BusError> {
        match &*self.backend {
            Backend::Memory(m) => Ok(m.append(stream, entries, max_len)),
            Backend::Redis(r) => r.append(stream, &entries, max_len).await,
        }
    }

    /// A consumer `consumer` of `group` on `stream` (the group is created on first read).
    pub fn subscribe(&self, stream: &str, group: &str, consumer: &str) -> Subscription {
        Subscription {
            bus: self.clone(),
            stream: stream.to_owned(),
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            group_ready: false,
            reader: match &*self.backend {
                Backend::Redis(r) => Some(r.reader()),
                Backend::Memory(_) => None,
            },
            reclaim_cursor: "0-0".to_owned(),
        }
    }

    /// Dead letters of `stream` in `range`, oldest first, at most `limit`.
    pub async fn dead_letters(
        &self,
        stream: &str,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, BusError> {
        let dead = dead_letter_stream(stream);
        let entries = match &*self.backend {
            Backend::Memory(m) => m.range(&dead, range, limit),
            Backend::Redis(r) => r.range(&dead, range, limit).await?,
        };
        Ok(entries
            .into_iter()
            .map(|(id, fields)| DeadLetter::from_entry(id, &fields))
            .collect())
    }

    /// Moves the dead letters of `stream` in `range` back onto `stream`, each for the group
    /// that gave up on it (other groups acknowledge it unread), in batches; returns how many.
    pub async fn replay(
        &self,
        stream: &str,
        range: TimeRange,
        max_len: u64,
    ) -> Result<usize, BusError> {
        let dead = dead_letter_stream(stream);
        let mut moved = 0;
        loop {
            let batch = match &*self.backend {
                Backend::Memory(m) => m.replay(stream, &dead, range, REPLAY_BATCH, max_len),
                Backend::Redis(r) => {
                    r.replay(stream, &dead, range, REPLAY_BATCH, max_len)
                        .await?
                }
            };
            moved += batch;
            if batch < REPLAY_BATCH {
                tracing::info!(stream, replayed = moved, "dead letters replayed");
                return Ok(moved);
            }
        }
    }

    /// Entries in `stream` (trimmed ones excluded).
    pub async fn len(&self, stream: &str) -> Result<u64, BusError> {
        match &*self.backend {
            Backend::Memory(m) => Ok(m.len(stream)),
            Backend::Redis(r) => r.len(stream).await,
        }
    }
}

/// One consumer of a group: reads, reclaims, acknowledges and dead-letters its deliveries.
pub struct Subscription {
    bus: EventBus,
    stream: String,
    group: String,
    consumer: String,
    group_ready: bool,
    /// Redis: a connection of its own for blocking reads.
    reader: Option<RedisReader>,
    /// Where the next reclaim scan starts (`XAUTOCLAIM` cursor).
    reclaim_cursor: String,
}

impl Subscription {
    pub fn stream(&self) -> &str {
        &self.stream
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    async fn ensure_group(&mut self) -> Result<(), BusError> {
        if self.group_ready {
            return Ok(());
        }
        match &*self.bus.backend {
            Backend::Memory(m) => m.create_group(&self.stream, &self.group),
            Backend::Redis(r) => r.create_group(&self.stream, &self.group).await?,
        }
        self.group_ready = true;
        Ok(())
    }

    /// Up to `count` entries never delivered to the group, waiting up to `block` for one.
    pub async fn read(&mut self, count: usize, block: Duration) -> Result<Vec<Delivery>, BusError> {
        self.ensure_group().await?;
        let out = match (&*self.bus.backend, &mut self.reader) {
            (Backend::Redis(_), Some(reader)) => {
                reader
                    .read(&self.stream, &self.group, &self.consumer, count, block)
                    .await
            }
            (Backend::Memory(m), _) => Ok(m
                .read(&self.stream, &self.group, &self.consumer, count, block)
                .await),
            (Backend::Redis(_), None) => Err(BusError("no reader".into())),
        };
        if out.is_err() {
            self.group_ready = false; // the stream may have been deleted with its group
        }
        out
    }

    /// Up to `count` of the group's entries pending for longer than `min_idle` (any
    /// consumer's), now delivered to this one.
    pub async fn reclaim(
        &mut self,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<Delivery>, BusError> {
        self.ensure_group().await?;
        match &*self.bus.backend {
            Backend::Memory(m) => {
                Ok(m.reclaim(&self.stream, &self.group, &self.consumer, min_idle, count))
            }
            Backend::Redis(r) => {
                let (next, claimed) = r
                    .reclaim(
                        &self.stream,
                        &self.group,
                        &self.consumer,
                        min_idle,
                        count,
                        &self.reclaim_cursor,
                    )
                    .await?;
                self.reclaim_cursor = next;
                Ok(claimed)
            }
        }
    }

    /// Acknowledges `entry_ids`: the group is done with them.
    pub async fn ack(&self, entry_ids: &[String]) -> Result<(), BusError> {
        if entry_ids.is_empty() {
            return Ok(());
        }
        match &*self.bus.backend {
            Backend::Memory(m) => {
                m.ack(&self.stream, &self.group, entry_ids);
                Ok(())
            }
            Backend::Redis(r) => r.ack(&self.stream, &self.group, entry_ids).await,
        }
    }

    /// Adds `delivery` to the dead-letter stream with `error` and acknowledges it, atomically.
    pub async fn dead_letter(&self, delivery: &Delivery, error: &str) -> Result<(), BusError> {
        let fields = delivery.dead_letter_fields(&self.group, error);
        let dead = dead_letter_stream(&self.stream);
        match &*self.bus.backend {
            Backend::Memory(m) => {
                m.dead_letter(&self.stream, &self.group, &delivery.entry_id, &dead, fields);
                Ok(())
            }
            Backend::Redis(r) => {
                r.dead_letter(
                    &self.stream,
                    &self.group,
                    &delivery.entry_id,
                    &dead,
                    &fields,
                )
                .await
            }
        }
    }

    /// Entries delivered to the group and not acknowledged yet.
    pub async fn pending(&mut self) -> Result<u64, BusError> {
        self.ensure_group().await?;
        match &*self.bus.backend {
            Backend::Memory(m) => Ok(m.pending(&self.stream, &self.group)),
            Backend::Redis(r) => r.pending(&self.stream, &self.group).await,
        }
    }
}
