//! Proto <-> domain conversions of the serving calls: filters, boosts and the bounds the
//! proto documents, parsed with every violation collected; answers back to the wire.
use crate::domain::filter::{
    self, AttributeCondition, Boost, ItemFilter, MAX_BOOSTS, MAX_CATEGORIES, MAX_CONDITIONS,
    MAX_EXCLUDED, MAX_MAGNITUDE, MAX_TAGS, MAX_VALUE_CHARS, MAX_VALUES,
};
use crate::domain::model::Rule;
use crate::domain::serving::{DEFAULT_RESULTS, MAX_RESULTS, Reason, Recommended};
use crate::domain::{CustomerId, ItemId};
use chrono::{DateTime, Utc};
use crm_platform::Violations;
use crm_platform::validate::{max_items, opt_timestamp, text};
use crm_proto::recommendations as pb;
use std::collections::HashSet;

/// `max_results`: 1..100, 0 the default.
pub fn max_results(field: &str, n: i32, v: &mut Violations) -> usize {
    match usize::try_from(n) {
        Ok(0) => DEFAULT_RESULTS,
        Ok(n) if n <= MAX_RESULTS => n,
        _ => {
            v.add(field, format!("must be between 0 and {MAX_RESULTS}"));
            DEFAULT_RESULTS
        }
    }
}

/// `max_per_category`: 1..100, 0 no limit.
pub fn max_per_category(field: &str, n: i32, v: &mut Violations) -> usize {
    match usize::try_from(n) {
        Ok(n) if n <= 100 => n,
        _ => {
            v.add(field, "must be between 0 and 100");
            0
        }
    }
}

pub fn scenario(field: &str, s: &str, v: &mut Violations) -> String {
    let s = text(field, s, 64, false, v);
    v.check(field, filter::check_scenario(&s));
    s
}

/// A required `customers/{customer}`.
pub fn customer(field: &str, s: &str, v: &mut Violations) -> Option<CustomerId> {
    if s.is_empty() {
        v.add(field, "is required");
        return None;
    }
    v.check(field, CustomerId::parse_name(s))
}

/// An optional `customers/{customer}` (empty: anonymous).
pub fn opt_customer(field: &str, s: &str, v: &mut Violations) -> Option<CustomerId> {
    if s.is_empty() {
        None
    } else {
        v.check(field, CustomerId::parse_name(s))
    }
}

/// A required `items/{item}`.
pub fn item(field: &str, s: &str, v: &mut Violations) -> Option<ItemId> {
    if s.is_empty() {
        v.add(field, "is required");
        return None;
    }
    v.check(field, ItemId::parse_name(s))
}

/// A list of `items/{item}`, `min..=max` entries; repeats are dropped (first kept).
pub fn items(
    field: &str,
    names: &[String],
    min: usize,
    max: usize,
    v: &mut Violations,
) -> Vec<ItemId> {
    if names.len() < min {
        v.add(field, format!("must have {min} to {max} entries"));
    }
    if !max_items(field, names.len(), max, v) {
        return Vec::new();
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        if let Some(id) = item(&format!("{field}[{i}]"), n, v)
            && seen.insert(id.clone())
        {
            out.push(id);
        }
    }
    out
}

/// A finite number of magnitude at most 1e15.
fn bounded_number(field: &str, x: f64, v: &mut Violations) -> f64 {
    if !x.is_finite() || x.abs() > MAX_MAGNITUDE {
        v.add(field, "must be a finite number of magnitude at most 1e15");
        0.0
    } else {
        x
    }
}

/// A number within `lo..=hi` (NaN and infinities refused).
pub fn number_in(field: &str, x: f64, lo: f64, hi: f64, v: &mut Violations) -> f64 {
    if x.is_finite() && (lo..=hi).contains(&x) {
        x
    } else {
        v.add(field, format!("must be between {lo} and {hi}"));
        lo
    }
}

fn category(field: &str, s: &str, v: &mut Violations) -> String {
    let s = text(field, s, 600, true, v);
    if !s.is_empty() {
        v.check(field, filter::check_category(&s));
    }
    s
}

/// An optional category path (empty: none).
pub fn opt_category(field: &str, s: &str, v: &mut Violations) -> String {
    if s.is_empty() {
        String::new()
    } else {
        category(field, s, v)
    }
}

fn tag(field: &str, s: &str, v: &mut Violations) -> String {
    let s = text(field, s, 64, true, v);
    if !s.is_empty() {
        v.check(field, filter::check_tag(&s));
    }
    s
}

fn attribute_key(field: &str, s: &str, v: &mut Violations) -> String {
    let s = text(field, s, 64, true, v);
    if !s.is_empty() {
        v.check(field, filter::check_attribute_key(&s));
    }
    s
}

fn condition(
    field: &str,
    c: &pb::AttributeCondition,
    v: &mut Violations,
) -> Option<AttributeCondition> {
    let key = attribute_key(&format!("{field}.key"), &c.key, v);
    let min = bounded_number(&format!("{field}.min"), c.min, v);
    let max = bounded_number(&format!("{field}.max"), c.max, v);
    let values_field = format!("{field}.equals_any");
    let mut values = Vec::new();
    if max_items(&values_field, c.equals_any.len(), MAX_VALUES, v) {
        for (i, x) in c.equals_any.iter().enumerate() {
            values.push(text(
                &format!("{values_field}[{i}]"),
                x,
                MAX_VALUE_CHARS,
                true,
                v,
            ));
        }
    }
    let range = c.has_min || c.has_max;
    match (c.equals_any.is_empty(), range) {
        (false, true) => {
            v.add(
                field,
                "set either equals_any or a range (has_min, has_max), not both",
            );
            None
        }
        (true, false) => {
            v.add(field, "set equals_any or a range (has_min, has_max)");
            None
        }
        (false, false) => Some(AttributeCondition::EqualsAny { key, values }),
        (true, true) => {
            if c.has_min && c.has_max && min > max {
                v.add(format!("{field}.min"), "must not be above max");
            }
            Some(AttributeCondition::Range {
                key,
                min: c.has_min.then_some(min),
                max: c.has_max.then_some(max),
            })
        }
    }
}

/// An `ItemFilter` (unset: the empty filter).
pub fn item_filter(field: &str, f: Option<&pb::ItemFilter>, v: &mut Violations) -> ItemFilter {
    let Some(f) = f else {
        return ItemFilter::default();
    };
    let mut out = ItemFilter {
        include_unavailable: f.include_unavailable,
        ..ItemFilter::default()
    };
    let categories = format!("{field}.categories");
    if max_items(&categories, f.categories.len(), MAX_CATEGORIES, v) {
        for (i, c) in f.categories.iter().enumerate() {
            out.categories
                .push(category(&format!("{categories}[{i}]"), c, v));
        }
    }
    let tags = format!("{field}.tags");
    if max_items(&tags, f.tags.len(), MAX_TAGS, v) {
        for (i, t) in f.tags.iter().enumerate() {
            out.tags.push(tag(&format!("{tags}[{i}]"), t, v));
        }
    }
    let conditions = format!("{field}.attribute_conditions");
    if max_items(&conditions, f.attribute_conditions.len(), MAX_CONDITIONS, v) {
        for (i, c) in f.attribute_conditions.iter().enumerate() {
            if let Some(c) = condition(&format!("{conditions}[{i}]"), c, v) {
                out.conditions.push(c);
            }
        }
    }
    let excluded = format!("{field}.exclude_items");
    if max_items(&excluded, f.exclude_items.len(), MAX_EXCLUDED, v) {
        for (i, n) in f.exclude_items.iter().enumerate() {
            if let Some(id) = item(&format!("{excluded}[{i}]"), n, v) {
                out.exclude.insert(id);
            }
        }
    }
    out.bookable_time = bookable_time(
        &format!("{field}.bookable_time"),
        f.bookable_time.as_ref(),
        v,
    );
    out
}

/// Between 1970 and 9999.
fn bookable_time(
    field: &str,
    t: Option<&prost_types::Timestamp>,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    let t = opt_timestamp(field, t, v)?;
    if t.timestamp() < 0 {
        v.add(field, "must be between 1970 and 9999");
        return None;
    }
    Some(t)
}

pub fn boosts(field: &str, list: &[pb::Boost], v: &mut Violations) -> Vec<Boost> {
    if !max_items(field, list.len(), MAX_BOOSTS, v) {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, b) in list.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let category = opt_category(&format!("{f}.category"), &b.category, v);
        let tag = if b.tag.is_empty() {
            String::new()
        } else {
            tag(&format!("{f}.tag"), &b.tag, v)
        };
        let attribute = match (b.attribute_key.is_empty(), b.attribute_value.is_empty()) {
            (true, true) => None,
            (false, false) => Some((
                attribute_key(&format!("{f}.attribute_key"), &b.attribute_key, v),
                text(
                    &format!("{f}.attribute_value"),
                    &b.attribute_value,
                    MAX_VALUE_CHARS,
                    true,
                    v,
                ),
            )),
            (true, false) => {
                v.add(
                    format!("{f}.attribute_key"),
                    "is required with attribute_value",
                );
                None
            }
            (false, true) => {
                v.add(
                    format!("{f}.attribute_value"),
                    "is required with attribute_key",
                );
                None
            }
        };
        let factor = if b.factor == 0.0 {
            v.add(format!("{f}.factor"), "is required");
            1.0
        } else {
            number_in(&format!("{f}.factor"), b.factor, 0.01, 100.0, v)
        };
        out.push(Boost {
            category,
            tag,
            attribute,
            factor,
        });
    }
    out
}

fn reason(r: &Reason) -> pb::Reason {
    use pb::ReasonKind as K;
    let (kind, related, scope) = match r {
        Reason::SimilarTo(i) => (K::SimilarTo, i.name(), String::new()),
        Reason::BoughtWith(i) => (K::BoughtWith, i.name(), String::new()),
        Reason::BuyAgain => (K::BuyAgain, String::new(), String::new()),
        Reason::Popular | Reason::InCatalogue => (K::Popular, String::new(), String::new()),
        Reason::PopularInCategory(c) => (K::PopularInCategory, String::new(), c.clone()),
        Reason::PopularInCohort(c) => (K::PopularInCohort, String::new(), c.clone()),
        Reason::SameCategoryAndTags(i) => (K::SameCategoryAndTags, i.name(), String::new()),
    };
    pb::Reason {
        kind: kind as i32,
        related_item: related,
        scope,
        text: r.text(),
    }
}

fn rule(r: &Rule) -> pb::AssociationRule {
    pb::AssociationRule {
        support: r.support,
        confidence: r.confidence,
        lift: r.lift,
        basket_count: i64::from(r.count),
    }
}

pub fn recommended(items: &[Recommended]) -> Vec<pb::RecommendedItem> {
    items
        .iter()
        .map(|r| pb::RecommendedItem {
            item: r.item.name(),
            score: r.score,
            reasons: r.reasons.iter().map(reason).collect(),
            rule: r.rule.as_ref().map(rule),
        })
        .collect()
}
