//! Request field parsers: each records a violation under the field's proto path.
use crate::domain::EarnSource;
use crate::domain::{CustomerId, Limits, Line, Program};
use crate::error::DOMAIN;
use chrono::{DateTime, Utc};
pub use crm_platform::grpc::{page_size, text};
use crm_platform::{Violations, validate};
use crm_proto::loyalty as pb;
use tonic::Status;

/// The value parsed from a request, or INVALID_ARGUMENT listing every violation.
pub fn parsed<T>(v: Violations, value: Option<T>) -> Result<T, Status> {
    crm_platform::grpc::parsed(v, value, DOMAIN)
}

/// A `customers/{uuid}` name (the customers service is not asked whether it exists).
pub fn customer(field: &str, name: &str, v: &mut Violations) -> Option<CustomerId> {
    v.check(field, CustomerId::parse_name(name))
}

/// (currency, amount_minor) of a Money field: an ISO 4217 currency and an amount that is
/// positive and at most `limits.max_amount_major` whole units of it.
pub fn money(
    field: &str,
    m: &crm_proto::common::Money,
    limits: &Limits,
    v: &mut Violations,
) -> Option<(String, i64)> {
    let amount_field = format!("{field}.amount_minor");
    let currency = validate::currency(&format!("{field}.currency_code"), &m.currency_code, v);
    let amount = match currency {
        Some(c) => {
            validate::amount_minor(&amount_field, c, m.amount_minor, limits.max_amount_major, v)
        }
        None => validate::in_range(&amount_field, m.amount_minor, 1..=i64::MAX, v),
    };
    currency.zip(amount).map(|(c, a)| (c.code().to_owned(), a))
}

/// Points moved by one call: 1 ..= `limits.max_points_per_call`.
pub fn points(field: &str, n: i64, limits: &Limits, v: &mut Violations) -> Option<i64> {
    validate::in_range(field, n, 1..=limits.max_points_per_call, v)
}

/// An Adjust's points: not 0, and at most `limits.max_points_per_call` either way.
pub fn adjust_points(n: i64, limits: &Limits, v: &mut Violations) -> Option<i64> {
    let max = limits.max_points_per_call;
    if n == 0 {
        v.add("points", "must not be 0");
        return None;
    }
    validate::in_range("points", n, -max..=max, v)
}

/// A timestamp in the protobuf range, cut to the stored (microsecond) precision.
pub fn opt_time(
    t: Option<&prost_types::Timestamp>,
    field: &str,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    validate::opt_timestamp(field, t, v).map(crate::domain::truncate)
}

/// One purchased item: an id, a quantity of 1 ..= `limits.max_quantity` and an optional
/// unit price in the purchase's currency (0 ..= the largest amount).
fn purchase_line(
    at: &str,
    item: &pb::PurchaseItem,
    amount: Option<&crm_proto::common::Money>,
    limits: &Limits,
    v: &mut Violations,
) -> Line {
    let item_id = text(&format!("{at}.item_id"), &item.item_id, 128, true, v);
    validate::in_range(
        &format!("{at}.quantity"),
        i64::from(item.quantity),
        1..=limits.max_quantity,
        v,
    );
    let price = item.unit_price.as_ref();
    if let (Some(price), Some(m)) = (price, amount) {
        if price.currency_code != m.currency_code {
            v.add(
                format!("{at}.unit_price.currency_code"),
                "must be the purchase amount's currency",
            );
        }
        let field = format!("{at}.unit_price.amount_minor");
        if price.amount_minor < 0 {
            v.add(field, "must not be negative");
        } else if price.amount_minor > 0
            && let Some(c) = iso_currency::Currency::from_code(&m.currency_code)
        {
            validate::amount_minor(&field, c, price.amount_minor, limits.max_amount_major, v);
        }
    }
    Line {
        item_id,
        quantity: i64::from(item.quantity),
        unit_price_minor: price.map(|m| m.amount_minor).unwrap_or(0),
    }
}

/// A purchase's purchase time: `Some(None)` when not given (now), `None` when refused
/// (see [`Program::purchase_time`]).
fn purchase_time(
    t: Option<&prost_types::Timestamp>,
    p: &Program,
    v: &mut Violations,
) -> Option<Option<DateTime<Utc>>> {
    let field = "purchase.purchase_time";
    let Some(t) = t else {
        return Some(None);
    };
    let t = opt_time(Some(t), field, v)?;
    match p.purchase_time(Some(t), crate::domain::now()) {
        Ok(_) => Some(Some(t)),
        Err(why) => {
            v.add(field, why);
            None
        }
    }
}

pub fn earn_source(
    source: Option<&pb::earn_request::Source>,
    p: &Program,
    v: &mut Violations,
) -> Option<EarnSource> {
    use pb::earn_request::Source;
    match source {
        None => {
            v.add("source", "one of purchase, action or goodwill is required");
            None
        }
        Some(Source::Purchase(purchase)) => {
            let order_id = text("purchase.order_id", &purchase.order_id, 128, true, v);
            let limits = &p.limits;
            let amount = match &purchase.amount {
                Some(m) => money("purchase.amount", m, limits, v),
                None => {
                    v.add("purchase.amount", "is required");
                    None
                }
            };
            let mut lines = Vec::new();
            if validate::max_items("purchase.items", purchase.items.len(), limits.max_items, v) {
                for (i, item) in purchase.items.iter().enumerate() {
                    let at = format!("purchase.items[{i}]");
                    lines.push(purchase_line(
                        &at,
                        item,
                        purchase.amount.as_ref(),
                        limits,
                        v,
                    ));
                }
            }
            let purchase_time = purchase_time(purchase.purchase_time.as_ref(), p, v);
            let (currency, amount_minor) = amount?;
            let purchase_time = purchase_time?;
            if !p.accepts_currency(&currency) {
                v.add(
                    "purchase.amount.currency_code",
                    format!(
                        "the programme earns only in {}",
                        p.currency_codes.join(", ")
                    ),
                );
                return None;
            }
            if p.base_points(amount_minor) == 0 {
                v.add(
                    "purchase.amount.amount_minor",
                    "is less than one currency unit: earns no points",
                );
                return None;
            }
            (!order_id.is_empty()).then_some(EarnSource::Purchase {
                order_id,
                currency,
                amount_minor,
                lines,
                purchase_time,
            })
        }
        Some(Source::Action(action)) => {
            if p.action_awards.contains_key(action) {
                Some(EarnSource::Action(action.clone()))
            } else {
                let known: Vec<&str> = p.action_awards.keys().map(String::as_str).collect();
                v.add("action", format!("must be one of {}", known.join(", ")));
                None
            }
        }
        Some(Source::Goodwill(g)) => {
            let points = points("goodwill.points", g.points, &p.limits, v);
            let reason = text("goodwill.reason", &g.reason, 500, true, v);
            let actor = text("goodwill.actor", &g.actor, 128, true, v);
            points
                .filter(|_| !reason.is_empty() && !actor.is_empty())
                .map(|points| EarnSource::Goodwill {
                    points,
                    reason,
                    actor,
                })
        }
    }
}

/// available_time and expire_time of an Earn, in the protobuf range: the expiry after the
/// earn time (now) and after availability; availability before the expiry (the policy's
/// when none is given).
pub fn earn_times(
    available: Option<&prost_types::Timestamp>,
    expire: Option<&prost_types::Timestamp>,
    p: &Program,
    v: &mut Violations,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let a = opt_time(available, "available_time", v);
    let e = opt_time(expire, "expire_time", v);
    let now = crate::domain::now();
    if let Some(e) = e {
        if e <= now {
            v.add("expire_time", "must be in the future");
        } else if a.is_some_and(|a| a >= e) {
            v.add("expire_time", "must be after available_time");
        }
    } else if a.is_some_and(|a| a >= p.expiry_of(now)) {
        v.add(
            "available_time",
            "must be before the points expire under the programme's policy",
        );
    }
    (a, e)
}
