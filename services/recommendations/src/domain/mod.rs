//! The rules of this service, pure: no tonic, sea-orm, redis or IO, so every rule is
//! unit-tested here without a database. The service loads values, asks these functions what
//! to do and writes the result.
//!
//! - [`item`]: the catalogue's items, their ids and category paths.
//! - [`interaction`]: what customers did with items, and the weight each counts for.
//! - [`filter`]: per-request filters, boosts and diversity over candidate items.
//! - [`profile`]: what cold start knows of a customer (cohorts).
//! - [`model`]: the algorithms (item-item similarity, association rules, popularity, the
//!   scoring of a history), the same code the service serves with and `eval` measures.
//! - [`rank`]: the ranking of an answer (seeds, buy again, blending, boosts, diversity,
//!   exploration).
//! - [`serving`]: the shape of the serving calls and their answers (reasons, items).
pub mod filter;
pub mod interaction;
pub mod item;
pub mod model;
pub mod profile;
pub mod rank;
pub mod serving;

pub use interaction::{Interaction, InteractionKind, Weights};
pub use item::{Availability, Item, ItemFields, ItemId};

crm_platform::resource_id!(CustomerId, "customers");
crm_platform::resource_id!(RecommendationId, "recommendations");

/// Timestamps are stored with microsecond precision (PostgreSQL's), so values are cut to it
/// before they are compared or hashed.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    truncated(chrono::Utc::now())
}

/// `t` cut to microseconds.
pub fn truncated(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}
