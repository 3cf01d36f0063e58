//! Activities, parsed from the wire and back.
use super::enums::{KINDS, code_of, enum_field};
use super::{bounded, max_chars, money, money_from};
use crate::domain::{Activity, CustomerId, PurchaseItem};
use crate::settings::InputLimits;
use crm_platform::Violations;
use crm_platform::validate::{self, multiline, text, to_timestamp};
use crm_proto::customers as pb;

/// Parses an activity; id, customer and create time are set by the service.
pub fn activity_from_proto(
    a: &pb::Activity,
    customer_id: CustomerId,
    limits: &InputLimits,
    v: &mut Violations,
) -> Option<Activity> {
    use max_chars as max;
    let kind = if a.kind == 0 {
        v.add("kind", "is required");
        None
    } else {
        enum_field(a.kind, "kind", KINDS, v)
    };
    let now = crate::domain::now();
    let occur_time = validate::required_timestamp("occur_time", a.occur_time.as_ref(), v)
        .filter(|t| validate::not_in_future("occur_time", *t, now, v));
    let amount = a
        .amount
        .as_ref()
        .and_then(|m| money_from(m, "amount", limits, v));
    let mut items = Vec::new();
    for (i, it) in bounded("items", &a.items, limits.max_items, v)
        .iter()
        .enumerate()
    {
        let f = format!("items[{i}]");
        let unit_price = it
            .unit_price
            .as_ref()
            .and_then(|m| money_from(m, &format!("{f}.unit_price"), limits, v));
        let item_id = text(&format!("{f}.item_id"), &it.item_id, max::ITEM_ID, true, v);
        let quantity = validate::in_range(
            &format!("{f}.quantity"),
            i64::from(it.quantity),
            1..=limits.max_quantity,
            v,
        );
        items.push(PurchaseItem {
            item_id,
            quantity: quantity.and_then(|q| i32::try_from(q).ok()).unwrap_or(0),
            unit_price,
        });
    }
    // The proto documents 1-5 for reviews; the per-kind rule (only reviews) is the domain's.
    if a.rating != 0 {
        validate::in_range("rating", i64::from(a.rating), 1..=5, v);
    }
    let channel = text("channel", &a.channel, max::CHANNEL, false, v);
    let reference = text("reference", &a.reference, max::REFERENCE, false, v);
    let body = multiline("text", &a.text, max::ACTIVITY_TEXT, false, v);
    let item_id = text("item_id", &a.item_id, max::ITEM_ID, false, v);
    Some(Activity {
        id: uuid::Uuid::nil(),
        customer: customer_id,
        kind: kind?,
        occur_time: occur_time?,
        channel,
        amount,
        items,
        reference,
        text: body,
        item_id,
        rating: a.rating,
        create_time: now,
    })
}

pub fn activity(a: &Activity) -> pb::Activity {
    pb::Activity {
        name: a.name(),
        kind: code_of(KINDS, a.kind),
        occur_time: Some(to_timestamp(a.occur_time)),
        channel: a.channel.clone(),
        amount: a.amount.as_ref().map(money),
        items: a.items.iter().map(purchase_item).collect(),
        reference: a.reference.clone(),
        text: a.text.clone(),
        item_id: a.item_id.clone(),
        rating: a.rating,
        create_time: Some(to_timestamp(a.create_time)),
    }
}

pub(crate) fn purchase_item(i: &PurchaseItem) -> pb::PurchaseItem {
    pb::PurchaseItem {
        item_id: i.item_id.clone(),
        quantity: i.quantity,
        unit_price: i.unit_price.as_ref().map(money),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{at, fields, limits};
    use super::*;
    use chrono::Utc;
    use crm_proto::common as cpb;

    fn activity_violations(a: &pb::Activity) -> Vec<String> {
        let mut v = Violations::new();
        let _ = activity_from_proto(a, CustomerId(uuid::Uuid::nil()), &limits(), &mut v);
        fields(&v)
    }

    fn cny(amount_minor: i64) -> Option<cpb::Money> {
        Some(cpb::Money {
            currency_code: "CNY".into(),
            amount_minor,
        })
    }

    #[test]
    fn a_refund_parses_with_its_order_amount_and_returned_items() {
        let wire = pb::Activity {
            kind: pb::ActivityKind::Refund as i32,
            occur_time: at(Utc::now().timestamp() - 60),
            amount: cny(4_500),
            items: vec![pb::PurchaseItem {
                item_id: "sku-1".into(),
                quantity: 2,
                unit_price: cny(2_250),
            }],
            reference: "order-17".into(),
            ..Default::default()
        };
        let mut v = Violations::new();
        let a = activity_from_proto(&wire, CustomerId(uuid::Uuid::nil()), &limits(), &mut v)
            .expect("parsed");
        assert!(v.is_empty());
        assert_eq!(a.kind, crate::domain::ActivityKind::Refund);
        assert_eq!((a.reference.as_str(), a.items.len()), ("order-17", 1));
        let back = activity(&a);
        assert_eq!(
            (back.kind, back.amount, back.items, back.reference),
            (wire.kind, wire.amount, wire.items, wire.reference)
        );
    }

    #[test]
    fn every_bad_activity_field_is_reported() {
        let l = limits();
        let a = pb::Activity {
            kind: 42,
            occur_time: at(Utc::now().timestamp() + 3600),
            channel: "web\0".into(),
            amount: cny(i64::MAX),
            items: vec![
                pb::PurchaseItem {
                    item_id: "".into(),
                    quantity: 0,
                    unit_price: Some(cpb::Money {
                        currency_code: "ZZZ".into(),
                        amount_minor: 1,
                    }),
                },
                pb::PurchaseItem {
                    item_id: "sku\u{202E}".into(),
                    quantity: i32::MAX,
                    unit_price: cny(-1),
                },
            ],
            reference: "r".repeat(129),
            text: "a\0".into(),
            item_id: "i\nj".into(),
            rating: 6,
            ..Default::default()
        };
        assert_eq!(
            activity_violations(&a),
            [
                "kind",
                "occur_time",
                "amount.amount_minor",
                "items[0].unit_price.currency_code",
                "items[0].item_id",
                "items[0].quantity",
                "items[1].unit_price.amount_minor",
                "items[1].item_id",
                "items[1].quantity",
                "rating",
                "channel",
                "reference",
                "text",
                "item_id",
            ]
        );
        let max_minor = l.max_amount_major * 100;
        let ok = pb::Activity {
            kind: pb::ActivityKind::Purchase as i32,
            occur_time: at(Utc::now().timestamp() + 60),
            amount: cny(max_minor),
            items: vec![pb::PurchaseItem {
                item_id: "sku".into(),
                quantity: i32::try_from(l.max_quantity).expect("fits"),
                unit_price: cny(1),
            }],
            text: "line 1\nline 2".into(),
            ..Default::default()
        };
        assert!(activity_violations(&ok).is_empty(), "within the bounds");
        let over = pb::Activity {
            amount: cny(max_minor + 1),
            ..ok.clone()
        };
        assert_eq!(activity_violations(&over), ["amount.amount_minor"]);
        let year0 = pb::Activity {
            occur_time: at(validate::MIN_TIMESTAMP_SECONDS - 1),
            items: vec![pb::PurchaseItem::default(); l.max_items + 1],
            amount: Some(cpb::Money {
                currency_code: "cny".into(),
                amount_minor: 1,
            }),
            ..ok
        };
        assert_eq!(
            activity_violations(&year0),
            ["occur_time", "amount.currency_code", "items"]
        );
    }
}
