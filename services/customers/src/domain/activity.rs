//! Activities: what a customer did, the raw material of insights.
use super::{CustomerId, Money};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActivityKind {
    Purchase,
    View,
    Search,
    Review,
    Inquiry,
    Complaint,
    Booking,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Purchase => "purchase",
            Self::View => "view",
            Self::Search => "search",
            Self::Review => "review",
            Self::Inquiry => "inquiry",
            Self::Complaint => "complaint",
            Self::Booking => "booking",
        }
    }
    pub fn from_db(s: &str) -> Option<Self> {
        [
            Self::Purchase,
            Self::View,
            Self::Search,
            Self::Review,
            Self::Inquiry,
            Self::Complaint,
            Self::Booking,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseItem {
    pub item_id: String,
    pub quantity: i32,
    pub unit_price: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub id: uuid::Uuid,
    pub customer: CustomerId,
    pub kind: ActivityKind,
    pub occur_time: DateTime<Utc>,
    pub channel: String,
    pub amount: Option<Money>,
    pub items: Vec<PurchaseItem>,
    pub reference: String,
    pub text: String,
    pub item_id: String,
    pub rating: i32,
    pub create_time: DateTime<Utc>,
}

impl Activity {
    pub fn name(&self) -> String {
        format!("{}/activities/{}", self.customer.name(), self.id)
    }

    /// Rules per kind; `field` paths are relative to the activity.
    pub fn validate(&self, now: DateTime<Utc>, v: &mut crm_platform::Violations) {
        if self.occur_time > now + chrono::Duration::days(1) {
            v.add("occur_time", "must not be in the future");
        }
        match self.kind {
            ActivityKind::Purchase if self.amount.is_none() => {
                v.add("amount", "is required for a purchase")
            }
            ActivityKind::View if self.item_id.is_empty() => {
                v.add("item_id", "is required for a view")
            }
            ActivityKind::Search if self.text.trim().is_empty() => {
                v.add("text", "is required for a search (the query)")
            }
            ActivityKind::Review if !(1..=5).contains(&self.rating) => {
                v.add("rating", "must be 1-5 for a review")
            }
            _ => {}
        }
        if self.kind != ActivityKind::Review && self.rating != 0 {
            v.add("rating", "only reviews have a rating");
        }
        for (i, item) in self.items.iter().enumerate() {
            if item.item_id.is_empty() {
                v.add(format!("items[{i}].item_id"), "is required");
            }
            if item.quantity < 1 {
                v.add(format!("items[{i}].quantity"), "must be at least 1");
            }
        }
        if self.text.chars().count() > 10_000 {
            v.add("text", "must be at most 10000 characters");
        }
    }
}
