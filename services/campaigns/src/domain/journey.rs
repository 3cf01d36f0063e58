//! Care journeys: a campaign whose schedule is a trigger. Customers enter when the trigger
//! fires for them, once per occasion (the occasion is part of the delivery's unique key), and
//! the message is due after the trigger's delay (a date's: at a local time of day in the
//! customer's zone). The campaign's segment is the journey's condition, checked when the
//! message is due. Variants can be tiered by loyalty tier (`variant_for`).
use super::campaign::Variant;
use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TriggerKind {
    Welcome,
    Date,
    WinBack,
    Purchase,
    Booking,
}

impl TriggerKind {
    pub const ALL: [TriggerKind; 5] = [
        Self::Welcome,
        Self::Date,
        Self::WinBack,
        Self::Purchase,
        Self::Booking,
    ];

    /// The `campaigns.trigger_kind` column.
    pub fn code(self) -> &'static str {
        match self {
            Self::Welcome => "welcome",
            Self::Date => "date",
            Self::WinBack => "win_back",
            Self::Purchase => "purchase",
            Self::Booking => "booking",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// The date kind of a birthday (the other kinds are the customer's important dates').
pub const BIRTHDAY: &str = "birthday";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub kind: TriggerKind,
    /// Date: "birthday" or an important date's kind.
    pub date_kind: String,
    /// Date: days before the date.
    pub days_before: u8,
    /// Date: the local time of day the message is due.
    pub time_of_day: NaiveTime,
    /// Win-back: days since the last purchase.
    pub inactive_days: u16,
    /// Welcome, purchase, booking: seconds after the event.
    pub delay_secs: u32,
}

/// Whether `s` is an occasion: 1 to 64 of a-z, 0-9, '-' and '_'.
pub fn is_occasion(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The occasion of a welcome.
pub const WELCOME: &str = "welcome";

/// The occasion of a purchase or booking follow-up: "order-<activity id, simple form>".
pub fn order_occasion(activity: uuid::Uuid) -> String {
    format!("order-{}", activity.simple())
}

/// The occasion of a win-back: once per lapse, named by the last purchase's UTC date.
pub fn win_back_occasion(last_purchase: DateTime<Utc>) -> String {
    format!("winback-{}", last_purchase.format("%Y%m%d"))
}

/// The variant of a recipient whose loyalty tier is `tier`: when any variant lists tiers,
/// the first listing `tier`, else the weighted pick `assigned` if it lists none, else the
/// first without tiers; without tiered variants, `assigned`. None when no variant fits
/// (every variant is for other tiers).
pub fn variant_for<'a>(variants: &'a [Variant], assigned: &str, tier: &str) -> Option<&'a Variant> {
    // H3: the tiered choice. Until then: the assigned variant.
    let _ = tier;
    variants
        .iter()
        .find(|v| v.id == assigned)
        .or_else(|| variants.first())
}
