//! Per-request filters, boosts and diversity over candidate items (Recombee-style filters and
//! boosters). Filled in by the serving work: parsing lives in the adapter, matching here.
use super::{Item, ItemId};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// A condition on one attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeCondition {
    /// The text attribute is one of these.
    EqualsAny { key: String, values: Vec<String> },
    /// The numeric attribute is within the bounds (either may be open).
    Range {
        key: String,
        min: Option<f64>,
        max: Option<f64>,
    },
}

/// Which items an answer may hold (every condition must hold).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemFilter {
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub conditions: Vec<AttributeCondition>,
    pub exclude: HashSet<ItemId>,
    pub include_unavailable: bool,
    pub bookable_time: Option<DateTime<Utc>>,
}

impl ItemFilter {
    /// Whether `item` passes (an item the catalogue does not describe is `None`: it passes
    /// only a filter with no condition on category, tags or attributes).
    pub fn admits(&self, id: &ItemId, item: Option<&Item>) -> bool {
        let _ = (id, item);
        true
    }
}

/// A score multiplier for matching items.
#[derive(Debug, Clone, PartialEq)]
pub struct Boost {
    pub category: String,
    pub tag: String,
    pub attribute: Option<(String, String)>,
    pub factor: f64,
}
