//! An interaction of a customer with an item, and the weight the model gives it.
use super::{CustomerId, ItemId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InteractionKind {
    View,
    CartAdd,
    Purchase,
    Booking,
    Review,
}

impl InteractionKind {
    pub const ALL: [Self; 5] = [
        Self::View,
        Self::CartAdd,
        Self::Purchase,
        Self::Booking,
        Self::Review,
    ];

    /// The stored code (the `kind` column), the proto enum's number.
    pub fn code(self) -> i16 {
        match self {
            Self::View => 1,
            Self::CartAdd => 2,
            Self::Purchase => 3,
            Self::Booking => 4,
            Self::Review => 5,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Purchases and bookings: they make baskets (BoughtTogether) and "buy again".
    pub fn is_order(self) -> bool {
        matches!(self, Self::Purchase | Self::Booking)
    }
}

/// The default weight of each kind (`[recommendations.weights]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    pub view: f64,
    pub cart_add: f64,
    pub purchase: f64,
    pub booking: f64,
    /// A review counts `(rating - 2) * review_per_star`: a 1 or 2 adds nothing.
    pub review_per_star: f64,
}

impl Weights {
    /// The weight of an interaction of `kind` (with `rating` for reviews) when the caller
    /// gave none.
    pub fn default_for(&self, kind: InteractionKind, rating: i32) -> f64 {
        match kind {
            InteractionKind::View => self.view,
            InteractionKind::CartAdd => self.cart_add,
            InteractionKind::Purchase => self.purchase,
            InteractionKind::Booking => self.booking,
            InteractionKind::Review => f64::from((rating - 2).max(0)) * self.review_per_star,
        }
    }

    pub fn validate(&self, section: &str, p: &mut Vec<String>) {
        for (key, w) in [
            ("view", self.view),
            ("cart_add", self.cart_add),
            ("purchase", self.purchase),
            ("booking", self.booking),
            ("review_per_star", self.review_per_star),
        ] {
            if !(0.0..=100.0).contains(&w) {
                p.push(format!("{section}.{key}: must be 0..=100"));
            }
        }
    }
}

/// One recorded interaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// Deduplicates: `event:{event id}:{n}` for events, `api:{interaction_id}` for
    /// RecordInteractions.
    pub source_key: String,
    pub customer: CustomerId,
    pub item: ItemId,
    pub kind: InteractionKind,
    /// The weight the model gives it (> 0, or 0 for a review that adds nothing).
    pub weight: f64,
    /// 1..5 for reviews, else 0.
    pub rating: i32,
    /// Units, >= 1.
    pub quantity: i32,
    /// The order or booking it belongs to ("" when none).
    pub basket: String,
    pub occur_time: DateTime<Utc>,
}
