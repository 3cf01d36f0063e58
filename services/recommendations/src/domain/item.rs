//! An item of the catalogue: its id (the caller's), what a caller may set, the bounds on it
//! and how an update changes it. Category paths match themselves and every path below.
use chrono::{DateTime, Utc};
use crm_platform::Violations;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Fields an update mask may name.
pub const UPDATABLE_FIELDS: &[&str] = &[
    "title",
    "category",
    "tags",
    "attributes",
    "numeric_attributes",
    "availability",
    "bookable_from",
    "bookable_until",
];

/// The longest item id (and interaction id), in characters.
pub const MAX_ID_CHARS: usize = 128;

/// The caller's id of an item, the `{item}` of `items/{item}`: 1 to 128 characters of
/// letters, digits and `._~:@-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemId(pub String);

/// Whether `s` is a valid id of an item or an interaction.
pub fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_CHARS
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~:@-".contains(&b))
}

impl ItemId {
    pub const COLLECTION: &'static str = "items";

    /// An id as sent in `item_id` (not a resource name).
    pub fn parse(id: &str) -> Result<Self, String> {
        if is_valid_id(id) {
            Ok(Self(id.to_owned()))
        } else {
            Err(format!(
                "must be 1 to {MAX_ID_CHARS} characters of letters, digits and ._~:@-"
            ))
        }
    }

    /// `items/{item}`.
    pub fn parse_name(name: &str) -> Result<Self, String> {
        match name.strip_prefix("items/") {
            Some(id) => Self::parse(id),
            None => Err("must be items/{item}".to_owned()),
        }
    }

    pub fn name(&self) -> String {
        format!("items/{}", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ItemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Availability {
    #[default]
    InStock,
    OutOfStock,
}

impl Availability {
    /// The stored code (the `availability` column).
    pub fn code(self) -> i16 {
        match self {
            Self::InStock => 1,
            Self::OutOfStock => 2,
        }
    }

    pub fn from_code(code: i16) -> Self {
        if code == 2 {
            Self::OutOfStock
        } else {
            Self::InStock
        }
    }
}

/// Whether category path `path` is `scope` or below it ("travel/hotels/paris" is in
/// "travel/hotels" and in "travel", not in "travel/hot").
pub fn in_category(path: &str, scope: &str) -> bool {
    scope.is_empty()
        || path == scope
        || (path.len() > scope.len()
            && path.starts_with(scope)
            && path.as_bytes()[scope.len()] == b'/')
}

/// What a caller sets on an item, checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemFields {
    pub title: String,
    /// A category path, "" when none.
    pub category: String,
    pub tags: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    pub numeric_attributes: BTreeMap<String, f64>,
    pub availability: Availability,
    pub bookable_from: Option<DateTime<Utc>>,
    pub bookable_until: Option<DateTime<Utc>>,
}

impl ItemFields {
    /// Problems of the fields (only those `named` reports true for), recorded in `v` by field
    /// name (the adapter prefixes `item.`). Filled in by the catalogue work.
    pub fn check(&self, named: &dyn Fn(&str) -> bool, v: &mut Violations) {
        let _ = (named, v);
    }
}

/// A stored item. `revision` counts its writes; its etag is derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub fields: ItemFields,
    pub revision: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl Item {
    /// Whether serving may return it under `include_unavailable` and `at` (a bookable time).
    pub fn servable(&self, include_unavailable: bool, at: Option<DateTime<Utc>>) -> bool {
        let f = &self.fields;
        (include_unavailable || f.availability == Availability::InStock)
            && at.is_none_or(|t| {
                f.bookable_from.is_none_or(|from| from <= t)
                    && f.bookable_until.is_none_or(|until| t <= until)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        assert!(ItemId::parse("sku-1001").is_ok());
        assert!(ItemId::parse("a.b_c~d:e@f-g").is_ok());
        for bad in ["", "a/b", "a b", "é", &"x".repeat(129)] {
            assert!(ItemId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ItemId::parse_name("items/x").unwrap().name(), "items/x");
        assert!(ItemId::parse_name("notes/x").is_err());
    }

    #[test]
    fn category_paths_match_themselves_and_below() {
        assert!(in_category("travel/hotels/paris", "travel/hotels"));
        assert!(in_category("travel/hotels", "travel/hotels"));
        assert!(in_category("anything", ""));
        assert!(!in_category("travel/hotels", "travel/hot"));
        assert!(!in_category("travel", "travel/hotels"));
    }
}
