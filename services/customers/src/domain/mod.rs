//! Pure customer rules and types: no I/O, no tonic, no sea-orm. Input is parsed into these
//! types once at the edge (parse, don't validate), so the rest of the service trusts them.
pub mod activity;
pub mod changes;
pub mod contact;
pub mod customer;
pub mod duplicates;
pub mod erase;
pub mod erasure;
pub mod import;
pub mod insights;
pub mod lifecycle;
pub mod listing;
pub mod masking;
pub mod merge;

pub use activity::{Activity, ActivityKind, PurchaseItem};
pub use contact::{Email, Phone, Tag};
pub use customer::*;
pub use lifecycle::Refusal;
pub use listing::OrderField;

crm_platform::resource_id!(CustomerId, "customers");

/// Money in integer minor units of an ISO 4217 currency (checked at the edge).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Money {
    pub currency: String,
    pub amount_minor: i64,
}

/// Timestamps are stored with microsecond precision (PostgreSQL's), so values are cut to it
/// before they are compared or hashed.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// One line of a customer's audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    pub action: String,
    pub actor: String,
    pub details: String,
    pub create_time: chrono::DateTime<chrono::Utc>,
}
