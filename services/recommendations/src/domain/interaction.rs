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

/// Most interactions one RecordInteractions call takes.
pub const MAX_PER_CALL: usize = 1000;
/// Largest weight a caller may give.
pub const MAX_WEIGHT: f64 = 100.0;
/// Most units of one purchase or booking.
pub const MAX_QUANTITY: i32 = 10_000;
/// Longest basket id, in characters.
pub const MAX_BASKET_CHARS: usize = 128;
/// How far ahead of the server's clock an occur_time may be (the proto's one minute).
pub const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// An interaction as a caller sends it, checked field by field by the adapter; the weight
/// and the source key are settled by [`NewInteraction::into_interaction`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewInteraction {
    /// The caller's id (letters, digits and `._~:@-`).
    pub interaction_id: String,
    pub customer: CustomerId,
    pub item: ItemId,
    pub kind: InteractionKind,
    /// `None`: the kind's default.
    pub weight: Option<f64>,
    pub rating: i32,
    pub quantity: i32,
    pub basket: String,
    pub occur_time: DateTime<Utc>,
}

impl NewInteraction {
    /// The dedup key of an interaction recorded by RecordInteractions.
    pub fn source_key(interaction_id: &str) -> String {
        format!("api:{interaction_id}")
    }

    pub fn into_interaction(self, weights: &Weights) -> Interaction {
        Interaction {
            source_key: Self::source_key(&self.interaction_id),
            weight: self
                .weight
                .unwrap_or_else(|| weights.default_for(self.kind, self.rating)),
            customer: self.customer,
            item: self.item,
            kind: self.kind,
            rating: self.rating,
            quantity: self.quantity,
            basket: self.basket,
            occur_time: self.occur_time,
        }
    }
}

/// A caller's weight: 0 means the kind's default, else 0 < weight <= 100.
pub fn weight(w: f64) -> Result<Option<f64>, String> {
    if w == 0.0 {
        Ok(None)
    } else if w.is_finite() && w > 0.0 && w <= MAX_WEIGHT {
        Ok(Some(w))
    } else {
        Err(format!(
            "must be 0 (the default) or 0 < weight <= {MAX_WEIGHT}"
        ))
    }
}

/// A rating: 1..5 for reviews, 0 for every other kind.
pub fn rating(kind: InteractionKind, rating: i32) -> Result<i32, String> {
    match kind {
        InteractionKind::Review if (1..=5).contains(&rating) => Ok(rating),
        InteractionKind::Review => Err("must be 1..5 for a review".to_owned()),
        _ if rating == 0 => Ok(0),
        _ => Err("must be 0 unless the kind is a review".to_owned()),
    }
}

/// Units: 1..10000; 0 means 1.
pub fn quantity(q: i32) -> Result<i32, String> {
    match q {
        0 => Ok(1),
        1..=MAX_QUANTITY => Ok(q),
        _ => Err(format!("must be 0 (one) or 1..{MAX_QUANTITY}")),
    }
}

/// A time an interaction happened: not before 1970, not after `now` plus [`CLOCK_SKEW`].
pub fn occur_time(t: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if t < DateTime::UNIX_EPOCH {
        Err("must not be before 1970".to_owned())
    } else if t > now + CLOCK_SKEW {
        Err("must not be in the future".to_owned())
    } else {
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights() -> Weights {
        Weights {
            view: 1.0,
            cart_add: 2.0,
            purchase: 4.0,
            booking: 4.0,
            review_per_star: 1.0,
        }
    }

    #[test]
    fn weights_are_bounded_and_zero_is_the_default() {
        assert_eq!(weight(0.0), Ok(None));
        assert_eq!(weight(2.5), Ok(Some(2.5)));
        assert_eq!(weight(100.0), Ok(Some(100.0)));
        for bad in [-1.0, 100.5, f64::NAN, f64::INFINITY, -f64::MIN_POSITIVE] {
            assert!(weight(bad).is_err(), "{bad}");
        }
        let w = weights();
        assert_eq!(w.default_for(InteractionKind::Review, 5), 3.0);
        assert_eq!(w.default_for(InteractionKind::Review, 2), 0.0);
    }

    #[test]
    fn ratings_belong_to_reviews_and_quantities_default_to_one() {
        assert_eq!(rating(InteractionKind::Review, 5), Ok(5));
        assert!(rating(InteractionKind::Review, 0).is_err());
        assert!(rating(InteractionKind::Review, 6).is_err());
        assert_eq!(rating(InteractionKind::View, 0), Ok(0));
        assert!(rating(InteractionKind::Purchase, 3).is_err());
        assert_eq!(quantity(0), Ok(1));
        assert_eq!(quantity(MAX_QUANTITY), Ok(MAX_QUANTITY));
        assert!(quantity(-1).is_err() && quantity(MAX_QUANTITY + 1).is_err());
    }

    #[test]
    fn times_are_not_in_the_future_nor_before_1970() {
        let now = Utc::now();
        assert!(occur_time(now + chrono::TimeDelta::seconds(30), now).is_ok());
        assert!(occur_time(now + chrono::TimeDelta::minutes(2), now).is_err());
        assert!(occur_time(DateTime::UNIX_EPOCH, now).is_ok());
        assert!(occur_time(DateTime::UNIX_EPOCH - chrono::TimeDelta::seconds(1), now).is_err());
    }

    #[test]
    fn the_default_weight_is_the_kinds() {
        let n = NewInteraction {
            interaction_id: "order-1:2".into(),
            customer: CustomerId(uuid::Uuid::nil()),
            item: ItemId("sku-1".into()),
            kind: InteractionKind::Purchase,
            weight: None,
            rating: 0,
            quantity: 1,
            basket: String::new(),
            occur_time: Utc::now(),
        };
        let i = n.clone().into_interaction(&weights());
        assert_eq!((i.weight, i.source_key.as_str()), (4.0, "api:order-1:2"));
        let heavier = NewInteraction {
            weight: Some(7.0),
            ..n
        };
        assert_eq!(heavier.into_interaction(&weights()).weight, 7.0);
    }
}
