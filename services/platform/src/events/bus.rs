//! [`EventBus`]: append-only streams with consumer groups, on Redis Streams or in process
//! (chosen by `events.redis_url`, like the cache). Both backends have the same semantics:
//! - a stream keeps its newest `stream_max_len` entries (`XADD ... MAXLEN ~`);
//! - a group reads each entry once (`XREADGROUP ... >`), from the oldest entry kept when the
//!   group is created; a read entry is pending until acknowledged (`XACK`);
//! - a pending entry idle longer than a timeout can be reclaimed by any consumer of the group
//!   (`XAUTOCLAIM`), counting one more delivery; a reclaimed entry trimmed meanwhile is dropped;
//! - a dead letter is added to `{stream}:dead` with the error and acknowledged, atomically;
//!   [`EventBus::replay`] moves dead letters back onto their stream, for their group only.
use super::envelope::{DecodeError, Envelope, Fields};
use super::memory::MemoryBus;
use super::redis_streams::{RedisBus, RedisReader};
use crate::config::EventsSettings;
use chrono::{DateTime, Utc};
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

/// Fields a dead letter or a replayed entry carries besides the envelope's.
pub(super) mod field {
    pub const GROUP: &str = "dead.group";
    pub const ENTRY: &str = "dead.entry";
    pub const ERROR: &str = "dead.error";
    pub const DELIVERIES: &str = "dead.deliveries";
    /// On a replayed entry: the only group that handles it (the others acknowledge it).
    pub const REPLAY_FOR: &str = "replayfor";
}

/// One entry delivered to a consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The entry's id in its stream (`{ms}-{n}`).
    pub entry_id: String,
    /// How many times it was delivered to the group, this time included.
    pub deliveries: u64,
    pub fields: Fields,
}

impl Delivery {
    pub fn envelope(&self) -> Result<Envelope, DecodeError> {
        Envelope::from_fields(&self.fields)
    }

    /// The group a replayed entry is meant for (`None`: every group).
    pub fn replay_for(&self) -> Option<&str> {
        text(&self.fields, field::REPLAY_FOR)
    }

    /// The fields of this entry's dead letter.
    pub(super) fn dead_letter_fields(&self, group: &str, error: &str) -> Fields {
        let mut fields: Fields = self
            .fields
            .iter()
            .filter(|(k, _)| k != field::REPLAY_FOR)
            .cloned()
            .collect();
        fields.extend([
            (field::GROUP.to_owned(), group.as_bytes().to_vec()),
            (field::ENTRY.to_owned(), self.entry_id.as_bytes().to_vec()),
            (field::ERROR.to_owned(), error.as_bytes().to_vec()),
            (
                field::DELIVERIES.to_owned(),
                self.deliveries.to_string().into_bytes(),
            ),
        ]);
        fields
    }
}

fn text<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// An entry of a dead-letter stream.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// Its id in the dead-letter stream; the time part is when it was dead-lettered.
    pub entry_id: String,
    /// The group whose handler gave up.
    pub group: String,
    /// The entry's id in its stream.
    pub original_entry_id: String,
    pub error: String,
    pub deliveries: u64,
    /// The event (an error when the entry was not an envelope).
    pub envelope: Result<Envelope, DecodeError>,
}

impl DeadLetter {
    pub(super) fn from_entry(entry_id: String, fields: &Fields) -> Self {
        let get = |name| text(fields, name).unwrap_or_default().to_owned();
        Self {
            group: get(field::GROUP),
            original_entry_id: get(field::ENTRY),
            error: get(field::ERROR),
            deliveries: get(field::DELIVERIES).parse().unwrap_or(0),
            envelope: Envelope::from_fields(fields),
            entry_id,
        }
    }

    /// The fields of a dead letter put back on its stream: the original entry, for its group.
    pub(super) fn replay_fields(fields: &Fields) -> Fields {
        let group = text(fields, field::GROUP).unwrap_or_default().to_owned();
        let mut out: Fields = fields
            .iter()
            .filter(|(k, _)| !k.starts_with("dead."))
            .cloned()
            .collect();
        out.push((field::REPLAY_FOR.to_owned(), group.into_bytes()));
        out
    }
}

/// Dead letters dead-lettered between two times (either end open).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Every dead letter.
    pub fn all() -> Self {
        Self::default()
    }

    /// The range in milliseconds since the epoch, both ends included (an open end is the
    /// first or last possible one).
    pub(super) fn millis(&self) -> (u64, u64) {
        let ms = |t: DateTime<Utc>| t.timestamp_millis().max(0).unsigned_abs();
        (self.from.map_or(0, ms), self.to.map_or(u64::MAX, ms))
    }
}

/// The dead-letter stream of `stream`.
pub fn dead_letter_stream(stream: &str) -> String {
    format!("{stream}:dead")
}

/// Streams of named fields with consumer groups; clones share connections (see the module
/// docs for the semantics both backends keep).
#[derive(Clone)]
pub struct EventBus {
    backend: Arc<Backend>,
    timeout: Duration,
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
        let timeout = Duration::from_millis(settings.redis_timeout_ms);
        let backend = if settings.redis_url.is_empty() {
            Backend::Memory(MemoryBus::process())
        } else {
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
            timeout,
        })
    }

    /// A bus of its own (tests of the in-process semantics).
    #[cfg(test)]
    pub(super) fn isolated_in_process() -> Self {
        Self {
            backend: Arc::new(Backend::Memory(Arc::new(MemoryBus::default()))),
            timeout: Duration::from_secs(1),
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
            Backend::Memory(m) => Ok(m.reclaim(
                &self.stream,
                &self.group,
                &self.consumer,
                min_idle,
                count,
            )),
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
                r.dead_letter(&self.stream, &self.group, &delivery.entry_id, &dead, &fields)
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

    /// Bound of one non-blocking call.
    pub fn timeout(&self) -> Duration {
        self.bus.timeout
    }
}
