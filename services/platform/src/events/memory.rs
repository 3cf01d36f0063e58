//! The in-process backend of the [`EventBus`](super::EventBus): Redis Streams semantics in
//! memory (one process, nothing survives a restart: the outbox still holds every unsent row,
//! and consumers' inboxes make the redelivery after a restart harmless).
use super::bus::{DeadLetter, Delivery, TimeRange};
use super::envelope::Fields;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A stream entry id: milliseconds since the epoch and a sequence within the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
struct EntryId(u64, u64);

impl EntryId {
    fn parse(s: &str) -> Option<Self> {
        let (ms, n) = s.split_once('-')?;
        Some(Self(ms.parse().ok()?, n.parse().ok()?))
    }
}

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

#[derive(Default)]
pub(super) struct MemoryBus {
    streams: Mutex<HashMap<String, Stream>>,
}

#[derive(Default)]
struct Stream {
    entries: BTreeMap<EntryId, Fields>,
    last: EntryId,
    groups: HashMap<String, Group>,
    appended: Arc<Notify>,
}

#[derive(Default)]
struct Group {
    delivered: EntryId,
    pending: BTreeMap<EntryId, Pending>,
}

struct Pending {
    consumer: String,
    since: Instant,
    deliveries: u64,
}

impl Stream {
    fn next_id(&mut self) -> EntryId {
        let ms = chrono::Utc::now().timestamp_millis().max(0).unsigned_abs();
        self.last = if ms > self.last.0 {
            EntryId(ms, 0)
        } else {
            EntryId(self.last.0, self.last.1 + 1)
        };
        self.last
    }

    fn add(&mut self, fields: Fields, max_len: u64) -> EntryId {
        let id = self.next_id();
        self.entries.insert(id, fields);
        while self.entries.len() as u64 > max_len {
            self.entries.pop_first();
        }
        id
    }
}

impl MemoryBus {
    /// The bus every in-process [`EventBus`](super::EventBus) of this process shares.
    pub(super) fn process() -> Arc<Self> {
        static PROCESS: OnceLock<Arc<MemoryBus>> = OnceLock::new();
        PROCESS.get_or_init(Arc::default).clone()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Stream>> {
        // A panic while holding the lock leaves consistent maps (each change is one insert or
        // remove), so a poisoned lock is still usable.
        self.streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn append(&self, stream: &str, entries: Vec<Fields>, max_len: u64) -> Vec<String> {
        let mut streams = self.lock();
        let s = streams.entry(stream.to_owned()).or_default();
        let ids = entries
            .into_iter()
            .map(|f| s.add(f, max_len).to_string())
            .collect();
        s.appended.notify_waiters();
        ids
    }

    pub(super) fn create_group(&self, stream: &str, group: &str) {
        let mut streams = self.lock();
        let s = streams.entry(stream.to_owned()).or_default();
        s.groups.entry(group.to_owned()).or_default();
    }

    pub(super) async fn read(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + block;
        loop {
            let appended = self
                .lock()
                .entry(stream.to_owned())
                .or_default()
                .appended
                .clone();
            // Registered before looking, so an append right after the look wakes us.
            let notified = appended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got = self.take_new(stream, group, consumer, count);
            if !got.is_empty() {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Vec::new();
            }
        }
    }

    /// Runs `f` on the entries and the group `group` of `stream`, if both exist.
    fn with_group<R: Default>(
        &self,
        stream: &str,
        group: &str,
        f: impl FnOnce(&BTreeMap<EntryId, Fields>, &mut Group) -> R,
    ) -> R {
        let mut streams = self.lock();
        match streams.get_mut(stream) {
            Some(s) => s
                .groups
                .get_mut(group)
                .map_or_else(R::default, |g| f(&s.entries, g)),
            None => R::default(),
        }
    }

    fn take_new(&self, stream: &str, group: &str, consumer: &str, count: usize) -> Vec<Delivery> {
        self.with_group(stream, group, |entries, g| {
            let now = Instant::now();
            let after = EntryId(g.delivered.0, g.delivered.1.saturating_add(1));
            let mut out = Vec::new();
            for (id, fields) in entries.range(after..).take(count.max(1)) {
                g.delivered = *id;
                let consumer = consumer.to_owned();
                g.pending.insert(
                    *id,
                    Pending {
                        consumer,
                        since: now,
                        deliveries: 1,
                    },
                );
                out.push(Delivery {
                    entry_id: id.to_string(),
                    deliveries: 1,
                    fields: fields.clone(),
                });
            }
            out
        })
    }

    pub(super) fn reclaim(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Vec<Delivery> {
        self.with_group(stream, group, |entries, g| {
            let now = Instant::now();
            let mut out = Vec::new();
            let mut trimmed = Vec::new();
            for (id, p) in g.pending.iter_mut() {
                if out.len() >= count.max(1) {
                    break;
                }
                if now.duration_since(p.since) < min_idle {
                    continue;
                }
                let Some(fields) = entries.get(id) else {
                    trimmed.push(*id);
                    continue;
                };
                p.consumer = consumer.to_owned();
                p.since = now;
                p.deliveries += 1;
                out.push(Delivery {
                    entry_id: id.to_string(),
                    deliveries: p.deliveries,
                    fields: fields.clone(),
                });
            }
            for id in &trimmed {
                g.pending.remove(id);
            }
            let trimmed: Vec<String> = trimmed.iter().map(EntryId::to_string).collect();
            super::entry::log_trimmed(stream, group, &trimmed);
            out
        })
    }

    pub(super) fn ack(&self, stream: &str, group: &str, entry_ids: &[String]) {
        self.with_group(stream, group, |_, g| {
            for id in entry_ids.iter().filter_map(|i| EntryId::parse(i)) {
                g.pending.remove(&id);
            }
        });
    }

    pub(super) fn dead_letter(
        &self,
        stream: &str,
        group: &str,
        entry_id: &str,
        dead: &str,
        fields: Fields,
    ) {
        // One lock: the dead letter and the acknowledgement happen together.
        let mut streams = self.lock();
        streams
            .entry(dead.to_owned())
            .or_default()
            .add(fields, u64::MAX);
        if let (Some(g), Some(id)) = (
            streams
                .get_mut(stream)
                .and_then(|s| s.groups.get_mut(group)),
            EntryId::parse(entry_id),
        ) {
            g.pending.remove(&id);
        }
    }

    pub(super) fn pending(&self, stream: &str, group: &str) -> u64 {
        self.with_group(stream, group, |_, g| g.pending.len() as u64)
    }

    pub(super) fn len(&self, stream: &str) -> u64 {
        self.lock()
            .get(stream)
            .map_or(0, |s| s.entries.len() as u64)
    }

    pub(super) fn range(
        &self,
        stream: &str,
        range: TimeRange,
        limit: usize,
    ) -> Vec<(String, Fields)> {
        let streams = self.lock();
        let Some(s) = streams.get(stream) else {
            return Vec::new();
        };
        let (from, to) = bounds(range);
        s.entries
            .range(from..=to)
            .take(limit)
            .map(|(id, f)| (id.to_string(), f.clone()))
            .collect()
    }

    pub(super) fn replay(
        &self,
        stream: &str,
        dead: &str,
        range: TimeRange,
        limit: usize,
        max_len: u64,
    ) -> usize {
        let mut streams = self.lock();
        let (from, to) = bounds(range);
        let moved: Vec<(EntryId, Fields)> = streams.get(dead).map_or_else(Vec::new, |d| {
            d.entries
                .range(from..=to)
                .take(limit)
                .map(|(id, f)| (*id, DeadLetter::replay_fields(f)))
                .collect()
        });
        if let Some(d) = streams.get_mut(dead) {
            for (id, _) in &moved {
                d.entries.remove(id);
            }
        }
        let s = streams.entry(stream.to_owned()).or_default();
        for (_, fields) in &moved {
            s.add(fields.clone(), max_len);
        }
        s.appended.notify_waiters();
        moved.len()
    }
}

fn bounds(range: TimeRange) -> (EntryId, EntryId) {
    let (from, to) = range.millis();
    (EntryId(from, 0), EntryId(to, u64::MAX))
}
