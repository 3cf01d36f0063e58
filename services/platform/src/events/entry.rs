//! What the bus hands out: deliveries, dead letters, and the time ranges of replays.
use super::envelope::{DecodeError, Envelope, Fields};
use chrono::{DateTime, Utc};

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

/// Logs pending entries of `group` that `stream` trimmed before they were handled: lost
/// to that group (its backlog outgrew `stream_max_len`).
pub(super) fn log_trimmed(stream: &str, group: &str, entries: &[String]) {
    if !entries.is_empty() {
        tracing::error!(
            stream,
            group,
            ?entries,
            "pending events trimmed from their stream before they were handled (stream_max_len too small for this backlog)"
        );
    }
}
