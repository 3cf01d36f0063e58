//! Proto <-> domain conversions shared by the areas (no store types: rows convert next to
//! their queries).
use crm_platform::Violations;

/// An etag the caller sent back (empty: no precondition). One that is not current, ours or
/// not, is ABORTED later; here it only has to be a short line of text.
pub fn sent_etag(field: &str, sent: &str, v: &mut Violations) -> String {
    crm_platform::validate::text(field, sent, 64, false, v)
}

use crate::domain::interaction::{self, NewInteraction};
use crate::domain::item::{MAX_TEXT_CHARS, key_problem};
use crate::domain::{Availability, CustomerId, InteractionKind, Item, ItemFields, ItemId};
use chrono::{DateTime, Utc};
use crm_platform::validate::{opt_timestamp, required_timestamp, to_timestamp};
use crm_proto::recommendations as pb;
use std::collections::BTreeMap;

/// An item to the wire.
pub fn item(i: &Item) -> pb::Item {
    let f = &i.fields;
    pb::Item {
        name: i.id.name(),
        title: f.title.clone(),
        category: f.category.clone(),
        tags: f.tags.clone(),
        attributes: f.attributes.clone().into_iter().collect(),
        numeric_attributes: f.numeric_attributes.clone().into_iter().collect(),
        availability: match f.availability {
            Availability::InStock => pb::Availability::InStock,
            Availability::OutOfStock => pb::Availability::OutOfStock,
        } as i32,
        bookable_from: f.bookable_from.map(to_timestamp),
        bookable_until: f.bookable_until.map(to_timestamp),
        create_time: Some(to_timestamp(i.create_time)),
        update_time: Some(to_timestamp(i.update_time)),
        etag: i.etag(),
    }
}

/// An item id sent as `field` (an `item_id`, not a name).
pub fn item_id(field: &str, raw: &str, v: &mut Violations) -> Option<ItemId> {
    if raw.is_empty() {
        v.add(field, "is required");
        return None;
    }
    v.check(field, ItemId::parse(raw))
}

/// An `items/{item}` name sent as `field`.
pub fn item_name(field: &str, raw: &str, v: &mut Violations) -> Option<ItemId> {
    if raw.is_empty() {
        v.add(field, "is required");
        return None;
    }
    v.check(field, ItemId::parse_name(raw))
}

/// A category path sent as `field` ("" none).
pub fn category(field: &str, raw: &str, v: &mut Violations) -> String {
    if let Some(p) = crate::domain::item::category_problem(raw) {
        v.add(field, p);
    }
    raw.to_owned()
}

/// The caller-set fields of an item, every problem recorded in `v` under the field's name
/// (the caller prefixes `item`). Output-only fields are ignored.
pub fn item_fields(i: &pb::Item, v: &mut Violations) -> ItemFields {
    let title = crm_platform::validate::text("title", &i.title, MAX_TEXT_CHARS, false, v);
    let mut attributes = BTreeMap::new();
    if crm_platform::validate::max_items(
        "attributes",
        i.attributes.len(),
        crate::domain::item::MAX_ATTRIBUTES,
        v,
    ) {
        for (k, x) in &i.attributes {
            let field = format!("attributes[{}]", echo_key(k));
            if let Some(p) = key_problem(k) {
                v.add(field, p);
                continue;
            }
            let x = crm_platform::validate::text(&field, x, MAX_TEXT_CHARS, false, v);
            attributes.insert(k.clone(), x);
        }
    }
    let availability = match pb::Availability::try_from(i.availability) {
        Ok(pb::Availability::Unspecified | pb::Availability::InStock) => Availability::InStock,
        Ok(pb::Availability::OutOfStock) => Availability::OutOfStock,
        Err(_) => {
            v.add("availability", "is not a known availability");
            Availability::InStock
        }
    };
    let fields = ItemFields {
        title,
        category: i.category.clone(),
        tags: i.tags.clone(),
        attributes,
        numeric_attributes: i
            .numeric_attributes
            .iter()
            .map(|(k, x)| (k.clone(), *x))
            .collect(),
        availability,
        bookable_from: opt_timestamp("bookable_from", i.bookable_from.as_ref(), v),
        bookable_until: opt_timestamp("bookable_until", i.bookable_until.as_ref(), v),
    };
    fields.check(&|_| true, v);
    fields
}

/// A map key as it may appear in a field path: only a well-formed one is echoed.
fn echo_key(k: &str) -> &str {
    if key_problem(k).is_none() { k } else { "?" }
}

/// One interaction of RecordInteractions; problems under `field` (e.g. `interactions[3]`).
pub fn interaction(
    field: &str,
    i: &pb::Interaction,
    now: DateTime<Utc>,
    v: &mut Violations,
) -> Option<NewInteraction> {
    let f = |name: &str| format!("{field}.{name}");
    let id = if i.interaction_id.is_empty() {
        v.add(f("interaction_id"), "is required");
        None
    } else if crate::domain::item::is_valid_id(&i.interaction_id) {
        Some(i.interaction_id.clone())
    } else {
        v.add(
            f("interaction_id"),
            "must be 1 to 128 characters of letters, digits and ._~:@-",
        );
        None
    };
    let customer = v.check(f("customer"), CustomerId::parse_name(&i.customer));
    let item = item_name(&f("item"), &i.item, v);
    let kind = match pb::InteractionKind::try_from(i.kind) {
        Ok(pb::InteractionKind::Unspecified) => {
            v.add(f("kind"), "is required");
            None
        }
        Ok(k) => InteractionKind::from_code(k as i16),
        Err(_) => {
            v.add(f("kind"), "is not a known kind");
            None
        }
    };
    let weight = v.check(f("weight"), interaction::weight(i.weight));
    let rating = kind.and_then(|k| v.check(f("rating"), interaction::rating(k, i.rating)));
    let quantity = v.check(f("quantity"), interaction::quantity(i.quantity));
    let occur_time = required_timestamp(&f("occur_time"), i.occur_time.as_ref(), v)
        .and_then(|t| v.check(f("occur_time"), interaction::occur_time(t, now)));
    let basket = crm_platform::validate::text(
        &f("basket_id"),
        &i.basket_id,
        interaction::MAX_BASKET_CHARS,
        false,
        v,
    );
    Some(NewInteraction {
        interaction_id: id?,
        customer: customer?,
        item: item?,
        kind: kind?,
        weight: weight?,
        rating: rating?,
        quantity: quantity?,
        basket,
        occur_time: crate::domain::truncated(occur_time?),
    })
}
