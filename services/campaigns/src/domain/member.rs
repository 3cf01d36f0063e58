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
