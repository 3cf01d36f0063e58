//! Per-request filters, boosts and diversity over candidate items (Recombee-style filters and
//! boosters): parsing lives in the adapter, matching here. Also the formats the filters name
//! (category paths, tags, attribute keys), checked the way the catalogue documents them.
use super::item::in_category;
use super::{Item, ItemId};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

/// Bounds of a filter (proto `ItemFilter`, `AttributeCondition`, `Boost`).
pub const MAX_CATEGORIES: usize = 20;
pub const MAX_TAGS: usize = 20;
pub const MAX_CONDITIONS: usize = 20;
pub const MAX_EXCLUDED: usize = 1000;
pub const MAX_VALUES: usize = 50;
pub const MAX_VALUE_CHARS: usize = 200;
pub const MAX_BOOSTS: usize = 20;
/// Numbers of range conditions: finite, magnitude at most this.
pub const MAX_MAGNITUDE: f64 = 1e15;

/// A category path: 1 to 8 segments of `[a-z0-9_-]`, each 1 to 64 characters.
pub fn check_category(path: &str) -> Result<(), String> {
    let segments: Vec<&str> = path.split('/').collect();
    let ok = (1..=8).contains(&segments.len())
        && segments.iter().all(|s| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err("must be a category path: 1 to 8 segments of a-z, 0-9, _ and - separated by /, each at most 64 characters".to_owned())
    }
}

/// A tag: 1 to 64 characters of `[a-z0-9_-:.]`.
pub fn check_tag(tag: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-:.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 64 characters of a-z, 0-9 and _-:.".to_owned())
    }
}

/// An attribute key: lower-case `[a-z][a-z0-9_]*`, at most 64 characters.
pub fn check_attribute_key(key: &str) -> Result<(), String> {
    let mut bytes = key.bytes();
    let ok = key.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err("must be [a-z][a-z0-9_]*, at most 64 characters".to_owned())
    }
}

/// A scenario: at most 64 characters of `[a-z0-9_-]` (empty: none).
pub fn check_scenario(s: &str) -> Result<(), String> {
    if s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err("must be at most 64 characters of a-z, 0-9, _ and -".to_owned())
    }
}

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

impl AttributeCondition {
    pub fn holds(&self, item: &Item) -> bool {
        let f = &item.fields;
        match self {
            Self::EqualsAny { key, values } => f
                .attributes
                .get(key)
                .is_some_and(|v| values.iter().any(|x| x == v)),
            Self::Range { key, min, max } => f
                .numeric_attributes
                .get(key)
                .is_some_and(|&n| min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)),
        }
    }
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
    /// only a filter with no condition on category, tags, attributes or bookable time; its
    /// availability is unknown, so it counts as in stock).
    pub fn admits(&self, id: &ItemId, item: Option<&Item>) -> bool {
        if self.exclude.contains(id) {
            return false;
        }
        let Some(item) = item else {
            return self.categories.is_empty()
                && self.tags.is_empty()
                && self.conditions.is_empty()
                && self.bookable_time.is_none();
        };
        let f = &item.fields;
        item.servable(self.include_unavailable, self.bookable_time)
            && (self.categories.is_empty()
                || self
                    .categories
                    .iter()
                    .any(|c| !f.category.is_empty() && in_category(&f.category, c)))
            && (self.tags.is_empty() || self.tags.iter().any(|t| f.tags.contains(t)))
            && self.conditions.iter().all(|c| c.holds(item))
    }
}

/// A score multiplier for matching items (empty parts: no condition).
#[derive(Debug, Clone, PartialEq)]
pub struct Boost {
    pub category: String,
    pub tag: String,
    pub attribute: Option<(String, String)>,
    pub factor: f64,
}

impl Boost {
    pub fn matches(&self, item: &Item) -> bool {
        let f = &item.fields;
        (self.category.is_empty()
            || (!f.category.is_empty() && in_category(&f.category, &self.category)))
            && (self.tag.is_empty() || f.tags.contains(&self.tag))
            && self
                .attribute
                .as_ref()
                .is_none_or(|(k, v)| f.attributes.get(k) == Some(v))
    }
}

/// The product of the factors of the boosts `item` matches (1 without catalogue row).
pub fn boost_factor(boosts: &[Boost], item: Option<&Item>) -> f64 {
    item.map_or(1.0, |i| {
        boosts
            .iter()
            .filter(|b| b.matches(i))
            .map(|b| b.factor)
            .product()
    })
}

/// Keeps, in order, at most `max` items per category (the full path; items without one
/// share the category ""). 0: no limit.
pub fn cap_per_category<T>(list: Vec<T>, max: usize, category: impl Fn(&T) -> String) -> Vec<T> {
    if max == 0 {
        return list;
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    list.into_iter()
        .filter(|x| {
            let n = seen.entry(category(x)).or_default();
            *n += 1;
            *n <= max
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Availability, ItemFields};

    fn item(id: &str, category: &str, tags: &[&str]) -> Item {
        let now = Utc::now();
        let mut fields = ItemFields {
            category: category.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..ItemFields::default()
        };
        fields
            .attributes
            .insert("destination".into(), "kyoto".into());
        fields.numeric_attributes.insert("stars".into(), 4.0);
        Item {
            id: ItemId(id.into()),
            fields,
            revision: 1,
            create_time: now,
            update_time: now,
        }
    }

    #[test]
    fn formats() {
        assert!(check_category("travel/hotels").is_ok());
        for bad in ["", "Travel", "a//b", "a/", "a b", "1/2/3/4/5/6/7/8/9"] {
            assert!(check_category(bad).is_err(), "{bad:?}");
        }
        assert!(check_tag("destination:kyoto").is_ok());
        assert!(check_tag("Spa").is_err());
        assert!(check_attribute_key("star_rating").is_ok());
        for bad in ["", "1a", "a-b", "A"] {
            assert!(check_attribute_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_scenario("").is_ok());
        assert!(check_scenario("check-out_2").is_ok());
        assert!(check_scenario("Home").is_err());
    }

    #[test]
    fn filters_hold_every_condition() {
        let i = item("a", "travel/hotels/kyoto", &["spa"]);
        let id = i.id.clone();
        assert!(ItemFilter::default().admits(&id, Some(&i)));
        let f = ItemFilter {
            categories: vec!["travel/hotels".into()],
            tags: vec!["spa".into(), "family".into()],
            conditions: vec![
                AttributeCondition::EqualsAny {
                    key: "destination".into(),
                    values: vec!["osaka".into(), "kyoto".into()],
                },
                AttributeCondition::Range {
                    key: "stars".into(),
                    min: Some(4.0),
                    max: None,
                },
            ],
            ..ItemFilter::default()
        };
        assert!(f.admits(&id, Some(&i)));
        assert!(!f.admits(&id, None), "no catalogue row, conditions set");
        let range = AttributeCondition::Range {
            key: "stars".into(),
            min: None,
            max: Some(3.5),
        };
        assert!(!range.holds(&i));
        let other = ItemFilter {
            categories: vec!["travel/hot".into()],
            ..ItemFilter::default()
        };
        assert!(!other.admits(&id, Some(&i)));
        let excluded = ItemFilter {
            exclude: [id.clone()].into(),
            ..ItemFilter::default()
        };
        assert!(!excluded.admits(&id, Some(&i)));
        assert!(ItemFilter::default().admits(&ItemId("x".into()), None));
        let mut sold = i.clone();
        sold.fields.availability = Availability::OutOfStock;
        assert!(!ItemFilter::default().admits(&id, Some(&sold)));
        let all = ItemFilter {
            include_unavailable: true,
            ..ItemFilter::default()
        };
        assert!(all.admits(&id, Some(&sold)));
    }

    #[test]
    fn boosts_multiply_and_diversity_caps() {
        let i = item("a", "travel/hotels", &["spa"]);
        let boosts = [
            Boost {
                category: "travel".into(),
                tag: String::new(),
                attribute: None,
                factor: 2.0,
            },
            Boost {
                category: String::new(),
                tag: "spa".into(),
                attribute: Some(("destination".into(), "kyoto".into())),
                factor: 1.5,
            },
            Boost {
                category: String::new(),
                tag: "golf".into(),
                attribute: None,
                factor: 10.0,
            },
        ];
        assert!((boost_factor(&boosts, Some(&i)) - 3.0).abs() < 1e-12);
        assert_eq!(boost_factor(&boosts, None), 1.0);
        let capped = cap_per_category(vec!["a1", "a2", "b1", "a3", "b2"], 1, |s| s[..1].into());
        assert_eq!(capped, ["a1", "b1"]);
        assert_eq!(
            cap_per_category(vec![1, 2, 3], 0, |_| String::new()),
            [1, 2, 3]
        );
    }
}
