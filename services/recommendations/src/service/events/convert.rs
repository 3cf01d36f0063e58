//! Customers' and loyalty's event payloads as what recommendations does with them
//! ([`Fact`]), and the ErasureCompleted answer. The only place the event protos are read.
//!
//! Activities become interactions (`event:{event id}:{n}`, n the item's place in the
//! event, so a redelivered event records nothing new even past the inbox's retention):
//! a purchase or booking one per order item (a booking without items: its `item_id`), its
//! order id the basket (BoughtTogether; the activity's name when the order has none); a view
//! and a review their `item_id` (a review with its 1..5 rating). Searches, inquiries and
//! complaints name no item. Customers' events carry no profile data, so a creation, or an
//! update of a field cold start uses, marks the profile stale for the refresh job.
use crate::domain::interaction::{Interaction, InteractionKind, Weights};
use crate::domain::{CustomerId, ItemId};
use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use crm_platform::events::Envelope;
use crm_platform::validate::to_timestamp;
use crm_proto::customers::ActivityKind;
use crm_proto::events::{self as ev, event::Payload};

/// The name ErasureCompleted gives this service (its envelope `source` too).
pub const SERVICE: &str = "recommendations";

/// Items one event records at most (customers bounds an order's items far below this).
pub const MAX_ITEMS_PER_EVENT: usize = 1000;
/// Losers one merge moves at most, and customers one erasure removes at most (customers
/// bounds both far below this).
pub const MAX_NAMES_PER_EVENT: usize = 1000;
/// The widest basket id the `interactions.basket_id` column holds.
const MAX_BASKET_LEN: usize = 300;

/// The Customer fields cold start reads: an update of any other leaves the profile as is.
const PROFILE_FIELDS: [&str; 3] = ["language_code", "addresses", "tags"];

/// What one event asks of recommendations.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// Record these interactions (idempotent by their source keys).
    Interactions(Vec<Interaction>),
    /// Customers changed what the profile holds: fetch it again.
    ProfileChanged(CustomerId),
    /// Move the losers' interactions, profile and served answers to the survivor.
    Merged {
        survivor: CustomerId,
        losers: Vec<CustomerId>,
    },
    /// Remove everything of `whose` (the customer and those merged into it) and answer the
    /// erasure of `customer` (the name as the event gave it).
    Erased {
        customer: String,
        whose: Vec<CustomerId>,
    },
    /// Loyalty's tier of the customer is now `tier` (lower-case).
    Tier { customer: CustomerId, tier: String },
    /// Nothing to do, and why (logged; the inbox row still commits).
    Skip(String),
}

fn skip(why: impl Into<String>) -> Fact {
    Fact::Skip(why.into())
}

/// A `customers/{id}` name, or why the event is skipped.
fn customer(field: &str, name: &str) -> Result<CustomerId, Fact> {
    CustomerId::parse_name(name).map_err(|e| skip(format!("{field} {name:?} is no customer: {e}")))
}

/// A payload time cut to microseconds, or the envelope's when unset or out of range.
fn time_of(event: &Envelope, t: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    let t = t
        .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .unwrap_or(event.time);
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// What `payload` (of `event`) asks of recommendations.
pub fn fact(event: &Envelope, payload: Payload, weights: &Weights) -> Fact {
    let got = match payload {
        Payload::ActivityRecorded(a) => activity(event, &a, weights),
        Payload::CustomerCreated(c) => customer("customer", &c.customer).map(Fact::ProfileChanged),
        Payload::CustomerUpdated(u) => updated(&u),
        Payload::CustomerMerged(m) => merged(&m),
        Payload::CustomerErased(e) => erased(&e),
        Payload::TierChanged(t) => tier(&t),
        other => Ok(skip(format!(
            "{} is not applied by recommendations",
            other.event_type()
        ))),
    };
    got.unwrap_or_else(|skipped| skipped)
}

fn updated(u: &ev::CustomerUpdated) -> Result<Fact, Fact> {
    let id = customer("customer", &u.customer)?;
    // No list: a producer that does not say what changed may have changed anything.
    let touches_profile = u.changed_fields.is_empty()
        || u.changed_fields
            .iter()
            .any(|f| PROFILE_FIELDS.contains(&f.as_str()));
    Ok(if touches_profile {
        Fact::ProfileChanged(id)
    } else {
        skip("no field cold start uses changed")
    })
}

fn names(field: &str, names: &[String]) -> Result<Vec<CustomerId>, Fact> {
    if names.len() > MAX_NAMES_PER_EVENT {
        return Err(skip(format!(
            "{} {field}: more than {MAX_NAMES_PER_EVENT}",
            names.len()
        )));
    }
    names.iter().map(|n| customer(field, n)).collect()
}

fn merged(m: &ev::CustomerMerged) -> Result<Fact, Fact> {
    let survivor = customer("survivor", &m.survivor)?;
    let mut losers = names("losers", &m.losers)?;
    losers.retain(|l| *l != survivor);
    losers.sort_unstable_by_key(|l| l.0);
    losers.dedup();
    if losers.is_empty() {
        return Err(skip("a merge without losers"));
    }
    Ok(Fact::Merged { survivor, losers })
}

fn erased(e: &ev::CustomerErased) -> Result<Fact, Fact> {
    let first = customer("customer", &e.customer)?;
    let mut whose = vec![first];
    whose.extend(names("merged_customers", &e.merged_customers)?);
    whose.sort_unstable_by_key(|c| c.0);
    whose.dedup();
    Ok(Fact::Erased {
        customer: e.customer.clone(),
        whose,
    })
}

fn tier(t: &ev::TierChanged) -> Result<Fact, Fact> {
    let id = customer("customer", &t.customer)?;
    let tier = t.to_tier.trim().to_lowercase();
    // `profiles.tier` is 64 wide; a cohort must be a value a request can name.
    if tier.is_empty() || tier.chars().count() > 64 || tier.chars().any(char::is_control) {
        return Err(skip(format!("tier {:?} is no tier code", t.to_tier)));
    }
    Ok(Fact::Tier { customer: id, tier })
}

/// An item id as the catalogue takes it (see `ItemId`), or None.
fn item(id: &str) -> Option<ItemId> {
    ItemId::parse(id).ok()
}

fn activity(event: &Envelope, a: &ev::ActivityRecorded, weights: &Weights) -> Result<Fact, Fact> {
    let kind = match ActivityKind::try_from(a.kind) {
        Ok(ActivityKind::Purchase) => InteractionKind::Purchase,
        Ok(ActivityKind::Booking) => InteractionKind::Booking,
        Ok(ActivityKind::View) => InteractionKind::View,
        Ok(ActivityKind::Review) => InteractionKind::Review,
        _ => return Err(skip("an activity of a kind that names no item")),
    };
    let who = customer("customer", &a.customer)?;
    let occur_time = time_of(event, a.occur_time.as_ref());
    let rating = if kind == InteractionKind::Review {
        if !(1..=5).contains(&a.rating) {
            return Err(skip(format!("a review rated {}", a.rating)));
        }
        a.rating
    } else {
        0
    };
    // (item, quantity) in the event's order; what names no valid item is left out.
    let mut items: Vec<(ItemId, i32)> = Vec::new();
    let order_items = a
        .order
        .as_ref()
        .map(|o| o.items.as_slice())
        .unwrap_or_default();
    if kind.is_order() && !order_items.is_empty() {
        for i in order_items.iter().take(MAX_ITEMS_PER_EVENT) {
            if let Some(id) = item(&i.item_id) {
                items.push((id, i.quantity.max(1)));
            }
        }
    } else if let Some(id) = item(&a.item_id) {
        items.push((id, 1));
    }
    if items.is_empty() {
        return Err(skip("an activity that names no valid item"));
    }
    let basket = if kind.is_order() {
        let order_id = a
            .order
            .as_ref()
            .map(|o| o.order_id.as_str())
            .unwrap_or_default();
        let basket = if order_id.is_empty() {
            a.activity.as_str()
        } else {
            order_id
        };
        if basket.chars().count() > MAX_BASKET_LEN {
            String::new()
        } else {
            basket.to_owned()
        }
    } else {
        String::new()
    };
    let weight = weights.default_for(kind, rating);
    Ok(Fact::Interactions(
        items
            .into_iter()
            .enumerate()
            .map(|(n, (item, quantity))| Interaction {
                source_key: format!("event:{}:{n}", event.id),
                customer: who,
                item,
                kind,
                weight,
                rating,
                quantity,
                basket: basket.clone(),
                occur_time,
            })
            .collect(),
    ))
}

/// The answer to the erasure event `erasure_event_id` of `customer`.
pub fn erasure_completed(
    customer: &str,
    erasure_event_id: &str,
    scrubbed: u64,
    now: DateTime<Utc>,
) -> Payload {
    Payload::ErasureCompleted(ev::ErasureCompleted {
        service: SERVICE.to_owned(),
        customer: customer.to_owned(),
        erasure_event_id: erasure_event_id.to_owned(),
        complete_time: Some(to_timestamp(now)),
        scrubbed_records: i64::try_from(scrubbed).unwrap_or(i64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights() -> Weights {
        crate::Settings::load(None)
            .expect("defaults")
            .recommendations
            .weights
    }

    fn envelope(payload: &Payload) -> Envelope {
        crm_platform::events::typed("customers", "customers/x", payload.clone())
    }

    fn apply(payload: Payload) -> Fact {
        fact(&envelope(&payload), payload, &weights())
    }

    fn purchase(c: CustomerId, order_id: &str, items: &[&str]) -> Payload {
        Payload::ActivityRecorded(ev::ActivityRecorded {
            activity: format!("{}/activities/a1", c.name()),
            customer: c.name(),
            kind: ActivityKind::Purchase as i32,
            order: Some(ev::Order {
                order_id: order_id.into(),
                amount: None,
                items: items
                    .iter()
                    .map(|i| crm_proto::customers::PurchaseItem {
                        item_id: (*i).into(),
                        quantity: 0,
                        unit_price: None,
                    })
                    .collect(),
            }),
            ..Default::default()
        })
    }

    #[test]
    fn an_order_records_each_valid_item_in_its_basket() {
        let c = CustomerId::generate();
        let Fact::Interactions(got) = apply(purchase(c, "", &["a", "bad id!", "b"])) else {
            panic!("interactions")
        };
        let got: Vec<_> = got
            .iter()
            .map(|i| (i.item.0.as_str(), i.quantity, i.weight, i.basket.as_str()))
            .collect();
        let basket = format!("{}/activities/a1", c.name());
        assert_eq!(
            got,
            [
                ("a", 1, 4.0, basket.as_str()),
                ("b", 1, 4.0, basket.as_str())
            ],
            "no order id: the activity is the basket; quantity at least 1"
        );
        assert!(matches!(apply(purchase(c, "o", &[])), Fact::Skip(_)));
    }

    #[test]
    fn reviews_weigh_by_rating_and_need_one() {
        let c = CustomerId::generate();
        let review = |rating| {
            Payload::ActivityRecorded(ev::ActivityRecorded {
                customer: c.name(),
                kind: ActivityKind::Review as i32,
                item_id: "a".into(),
                rating,
                ..Default::default()
            })
        };
        let Fact::Interactions(got) = apply(review(4)) else {
            panic!("interactions")
        };
        assert_eq!((got[0].rating, got[0].weight), (4, 2.0));
        assert!(matches!(apply(review(0)), Fact::Skip(_)));
        assert!(matches!(apply(review(6)), Fact::Skip(_)));
    }

    #[test]
    fn profile_merge_and_tier_facts() {
        let (a, b) = (CustomerId::generate(), CustomerId::generate());
        let updated = |fields: &[&str]| {
            Payload::CustomerUpdated(ev::CustomerUpdated {
                customer: a.name(),
                changed_fields: fields.iter().map(|f| (*f).to_owned()).collect(),
                ..Default::default()
            })
        };
        assert_eq!(apply(updated(&["tags"])), Fact::ProfileChanged(a));
        assert_eq!(apply(updated(&[])), Fact::ProfileChanged(a));
        assert!(matches!(apply(updated(&["phones"])), Fact::Skip(_)));
        let merged = Payload::CustomerMerged(ev::CustomerMerged {
            survivor: a.name(),
            losers: vec![b.name(), b.name(), a.name()],
            ..Default::default()
        });
        assert_eq!(
            apply(merged),
            Fact::Merged {
                survivor: a,
                losers: vec![b]
            }
        );
        let tier = |to: &str| {
            Payload::TierChanged(ev::TierChanged {
                customer: a.name(),
                to_tier: to.into(),
                ..Default::default()
            })
        };
        assert_eq!(
            apply(tier(" Gold ")),
            Fact::Tier {
                customer: a,
                tier: "gold".into()
            }
        );
        assert!(matches!(apply(tier("")), Fact::Skip(_)));
        let nobody = Payload::CustomerCreated(ev::CustomerCreated {
            customer: "people/1".into(),
            ..Default::default()
        });
        assert!(matches!(apply(nobody), Fact::Skip(_)));
    }
}
