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

/// The longest title and text attribute value, in characters.
pub const MAX_TEXT_CHARS: usize = 200;
/// Most segments of a category path, and the longest segment.
pub const MAX_CATEGORY_SEGMENTS: usize = 8;
pub const MAX_SEGMENT_CHARS: usize = 64;
/// Most tags, and the longest tag.
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_CHARS: usize = 64;
/// Most text (and, separately, numeric) attributes, and the longest key.
pub const MAX_ATTRIBUTES: usize = 32;
pub const MAX_KEY_CHARS: usize = 64;
/// Largest magnitude of a numeric attribute (well inside f64's exact integers' range).
pub const MAX_NUMBER: f64 = 1e15;

/// Why `path` is not a category path ("" is none and fine): 1 to 8 `/`-separated segments of
/// lower-case letters, digits, `_` and `-`, each 1 to 64 characters.
pub fn category_problem(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() > MAX_CATEGORY_SEGMENTS {
        return Some(format!(
            "must have at most {MAX_CATEGORY_SEGMENTS} segments"
        ));
    }
    let ok = segments.iter().all(|s| {
        !s.is_empty()
            && s.len() <= MAX_SEGMENT_CHARS
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    });
    (!ok).then(|| {
        format!(
            "must be segments of 1 to {MAX_SEGMENT_CHARS} lower-case letters, digits, _ and - separated by /"
        )
    })
}

/// Why `tag` is not a tag: 1 to 64 characters of `[a-z0-9_-:.]`.
pub fn tag_problem(tag: &str) -> Option<String> {
    let ok = !tag.is_empty()
        && tag.len() <= MAX_TAG_CHARS
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-:.".contains(&b));
    (!ok).then(|| {
        format!("must be 1 to {MAX_TAG_CHARS} characters of lower-case letters, digits and _-:.")
    })
}

/// Why `key` is not an attribute key: `[a-z][a-z0-9_]*`, at most 64 characters.
pub fn key_problem(key: &str) -> Option<String> {
    let mut bytes = key.bytes();
    let ok = key.len() <= MAX_KEY_CHARS
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    (!ok).then(|| {
        format!(
            "keys must be a lower-case letter then lower-case letters, digits and _, at most {MAX_KEY_CHARS} characters"
        )
    })
}

impl ItemFields {
    /// Problems of the fields (only those `named` reports true for), recorded in `v` by field
    /// name (the adapter prefixes `item.`). Lines of text (the title, attribute values) are
    /// checked where they are read, by the platform's text rules. The bookable window is
    /// checked when either of its ends is named, against the other as it is in `self`.
    pub fn check(&self, named: &dyn Fn(&str) -> bool, v: &mut Violations) {
        if named("category")
            && let Some(p) = category_problem(&self.category)
        {
            v.add("category", p);
        }
        if named("tags") {
            if self.tags.len() > MAX_TAGS {
                v.add("tags", format!("must have at most {MAX_TAGS} entries"));
            } else {
                for (i, t) in self.tags.iter().enumerate() {
                    if let Some(p) = tag_problem(t) {
                        v.add(format!("tags[{i}]"), p);
                    }
                }
            }
        }
        if named("attributes") {
            if self.attributes.len() > MAX_ATTRIBUTES {
                v.add(
                    "attributes",
                    format!("must have at most {MAX_ATTRIBUTES} entries"),
                );
            } else if let Some(p) = self.attributes.keys().find_map(|k| key_problem(k)) {
                v.add("attributes", p);
            }
        }
        if named("numeric_attributes") {
            if self.numeric_attributes.len() > MAX_ATTRIBUTES {
                v.add(
                    "numeric_attributes",
                    format!("must have at most {MAX_ATTRIBUTES} entries"),
                );
            } else if let Some(p) = self.numeric_attributes.keys().find_map(|k| key_problem(k)) {
                v.add("numeric_attributes", p);
            } else if self
                .numeric_attributes
                .values()
                .any(|x| !x.is_finite() || x.abs() > MAX_NUMBER)
            {
                v.add(
                    "numeric_attributes",
                    "values must be finite numbers of magnitude at most 1e15",
                );
            }
        }
        if (named("bookable_from") || named("bookable_until"))
            && let (Some(from), Some(until)) = (self.bookable_from, self.bookable_until)
            && until < from
        {
            v.add("bookable_until", "must not be before bookable_from");
        }
    }

    /// Copies the fields `paths` names from `patch` (paths are [`UPDATABLE_FIELDS`]).
    pub fn apply<'a>(&mut self, patch: ItemFields, paths: impl IntoIterator<Item = &'a str>) {
        let mut patch = patch;
        for p in paths {
            match p {
                "title" => self.title = std::mem::take(&mut patch.title),
                "category" => self.category = std::mem::take(&mut patch.category),
                "tags" => self.tags = std::mem::take(&mut patch.tags),
                "attributes" => self.attributes = std::mem::take(&mut patch.attributes),
                "numeric_attributes" => {
                    self.numeric_attributes = std::mem::take(&mut patch.numeric_attributes);
                }
                "availability" => self.availability = patch.availability,
                "bookable_from" => self.bookable_from = patch.bookable_from,
                "bookable_until" => self.bookable_until = patch.bookable_until,
                _ => {}
            }
        }
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
    /// A new item at revision 1.
    pub fn new(id: ItemId, fields: ItemFields, now: DateTime<Utc>) -> Self {
        Self {
            id,
            fields,
            revision: 1,
            create_time: now,
            update_time: now,
        }
    }

    /// The etag of its current revision.
    pub fn etag(&self) -> String {
        crm_platform::etag::of_revision(self.revision)
    }

    /// Its next revision with `fields` (a replace or an update).
    pub fn revised(&self, fields: ItemFields, now: DateTime<Utc>) -> Self {
        Self {
            id: self.id.clone(),
            fields,
            revision: self.revision + 1,
            create_time: self.create_time,
            update_time: now.max(self.update_time),
        }
    }

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
        assert_eq!(
            ItemId::parse_name("items/x").expect("valid").name(),
            "items/x"
        );
        assert!(ItemId::parse_name("notes/x").is_err());
    }

    fn fields(v: &Violations) -> Vec<String> {
        v.iter().map(|x| x.field.clone()).collect()
    }

    #[test]
    fn categories_tags_and_keys_have_their_alphabets_and_bounds() {
        for ok in [
            "",
            "travel",
            "travel/hotels/paris",
            "a_b-1/c",
            &"x".repeat(64),
        ] {
            assert_eq!(category_problem(ok), None, "{ok:?}");
        }
        let nine = ["a"; 9].join("/");
        for bad in [
            "/",
            "a/",
            "a//b",
            "Travel",
            "a b",
            "é",
            &"x".repeat(65),
            &nine,
        ] {
            assert!(category_problem(bad).is_some(), "{bad:?}");
        }
        assert_eq!(tag_problem("destination:kyoto"), None);
        for bad in ["", "Spa", "a b", "a\0", &"t".repeat(65)] {
            assert!(tag_problem(bad).is_some(), "{bad:?}");
        }
        assert_eq!(key_problem("star_rating"), None);
        for bad in ["", "1st", "_x", "Price", "a-b", &"k".repeat(65)] {
            assert!(key_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn check_reports_each_bad_field_and_only_the_named_ones() {
        let at = |s| DateTime::from_timestamp(s, 0);
        let bad = ItemFields {
            category: "A".into(),
            tags: vec!["ok".into(), "NO".into()],
            attributes: [("Bad".to_owned(), "v".to_owned())].into(),
            numeric_attributes: [("price".to_owned(), f64::INFINITY)].into(),
            bookable_from: at(200),
            bookable_until: at(100),
            ..ItemFields::default()
        };
        let mut v = Violations::new();
        bad.check(&|_| true, &mut v);
        assert_eq!(
            fields(&v),
            [
                "category",
                "tags[1]",
                "attributes",
                "numeric_attributes",
                "bookable_until"
            ]
        );
        let mut v = Violations::new();
        bad.check(&|f| f == "bookable_from", &mut v);
        assert_eq!(fields(&v), ["bookable_until"], "the window has two ends");
        let mut v = Violations::new();
        bad.check(&|f| f == "title", &mut v);
        assert!(v.is_empty());
        let many = ItemFields {
            tags: vec!["t".into(); MAX_TAGS + 1],
            numeric_attributes: (0..=MAX_ATTRIBUTES)
                .map(|i| (format!("k{i}"), 1.0))
                .collect(),
            ..ItemFields::default()
        };
        let mut v = Violations::new();
        many.check(&|_| true, &mut v);
        assert_eq!(fields(&v), ["tags", "numeric_attributes"]);
        let huge = ItemFields {
            numeric_attributes: [("p".to_owned(), -1.5e15)].into(),
            ..ItemFields::default()
        };
        let mut v = Violations::new();
        huge.check(&|_| true, &mut v);
        assert_eq!(fields(&v), ["numeric_attributes"]);
    }

    #[test]
    fn apply_copies_only_the_named_fields_and_revisions_move_on() {
        let mut f = ItemFields {
            title: "Old".into(),
            tags: vec!["a".into()],
            ..ItemFields::default()
        };
        let patch = ItemFields {
            title: "New".into(),
            availability: Availability::OutOfStock,
            ..ItemFields::default()
        };
        f.apply(patch, ["title", "availability"]);
        assert_eq!(f.title, "New");
        assert_eq!(f.availability, Availability::OutOfStock);
        assert_eq!(f.tags, ["a"], "kept");
        let t0 = DateTime::from_timestamp(1_000, 0).expect("time");
        let item = Item::new(ItemId("x".into()), f.clone(), t0);
        let next = item.revised(ItemFields::default(), t0 + chrono::TimeDelta::seconds(1));
        assert_eq!((item.revision, next.revision), (1, 2));
        assert_eq!(next.create_time, t0);
        assert_ne!(item.etag(), next.etag());
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
