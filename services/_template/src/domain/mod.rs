//! The rules of this service, pure: no tonic, sea-orm, redis or IO, so every rule is
//! unit-tested here without a database. The service loads values, asks these functions what
//! to do and writes the result.
mod note;

pub use note::{Limits, Note, NoteFields, UPDATABLE_FIELDS};

crm_platform::resource_id!(NoteId, "notes");

/// Timestamps are stored with microsecond precision (PostgreSQL's), so values are cut to it
/// before they are compared or hashed.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}
