//! A customer as the campaigns read model keeps it. The plain part ([`Member`]) is what
//! segments test and GetMember shows; the [`Profile`] (names, contact data) is sealed with
//! crm_platform::pii and only opened to address and render a message.
use super::CustomerId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Sealed in `members.profile` (AAD `members:<id>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
    pub primary_email: String,
    /// The first phone, E.164.
    pub phone: String,
}

/// A member's lifecycle in the read model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Active,
    Deleted,
    /// Merged into another customer (the survivor receives instead).
    Merged,
}

impl MemberState {
    pub fn code(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deleted => "deleted",
            Self::Merged => "merged",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "active" => Self::Active,
            "deleted" => Self::Deleted,
            "merged" => Self::Merged,
            _ => return None,
        })
    }
}

/// The plain facts of one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub customer: CustomerId,
    pub state: MemberState,
    pub language_code: String,
    pub time_zone: String,
    pub tags: Vec<String>,
    /// crm.customers.v1.LifecycleStage number.
    pub lifecycle_stage: i32,
    pub tier: String,
    pub available_points: i64,
    pub order_count: i64,
    pub last_purchase_time: Option<DateTime<Utc>>,
    pub rfm_segment: String,
    pub open_complaints: i64,
    /// crm.customers.v1.Channel numbers with consent granted.
    pub consented_channels: Vec<i32>,
    pub update_time: DateTime<Utc>,
}

/// What the customers service says of a customer at a refresh: the sealed profile and the
/// plain traits segments test (written over what the read model had).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub profile: Profile,
    pub state: SnapshotState,
    pub language_code: String,
    pub time_zone: String,
    /// crm.customers.v1.LifecycleStage number.
    pub lifecycle_stage: i32,
    /// (month, day) of the birth date; the year is not kept.
    pub birthday: Option<(i16, i16)>,
    pub tags: Vec<String>,
    /// Custom attributes as (key, value text); kept only as blind indexes.
    pub attributes: Vec<(String, String)>,
    /// Important dates as (kind, month, day).
    pub dates: Vec<(String, i16, i16)>,
    pub consents: Vec<ConsentFact>,
    /// RFM segment from customers' insights; None when they were not asked or failed.
    pub rfm_segment: Option<String>,
}

/// A customer's state as the customers service reports it at a refresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SnapshotState {
    #[default]
    Active,
    Deleted,
    /// Merged into the customer named (BatchGetCustomers answers with the survivor).
    Merged(CustomerId),
    /// Erased: the member is dropped (also when the erasure event has not arrived yet, or
    /// a late event brought the member back).
    Erased,
}

/// A consent decision on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentFact {
    /// crm.customers.v1.Channel number.
    pub channel: i32,
    pub granted: bool,
    pub time: DateTime<Utc>,
}

/// What loyalty says of a customer at a refresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoyaltyFacts {
    pub tier: String,
    pub available_points: i64,
}

/// A purchase or a refund as the read model keeps it (refunds: negative amount, no items).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFact {
    pub activity: uuid::Uuid,
    pub customer: CustomerId,
    pub occur_time: DateTime<Utc>,
    pub currency_code: String,
    pub amount_minor: i64,
    /// (item id, quantity) of a purchase.
    pub items: Vec<(String, i32)>,
}

/// A ticket of a customer as far as suppression cares: its category and whether it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFact {
    pub ticket: uuid::Uuid,
    pub customer: CustomerId,
    /// crm.tickets.v1.Category number; None when the event does not carry it.
    pub category: Option<i32>,
    pub open: bool,
    pub time: DateTime<Utc>,
}
