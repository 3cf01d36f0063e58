//! Request field parsers: each records a violation under the field's proto path.
use crate::domain::{CustomerId, Line, Program};
use crate::error::DOMAIN;
use crate::service::EarnSource;
use chrono::{DateTime, Utc};
use crm_platform::Violations;
pub use crm_platform::grpc::{page_size, positive, text};
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

/// (currency, amount_minor > 0) of a Money field.
pub fn money(
    field: &str,
    m: &crm_proto::common::Money,
    v: &mut Violations,
) -> Option<(String, i64)> {
    let mut ok = true;
    if !(m.currency_code.len() == 3 && m.currency_code.bytes().all(|b| b.is_ascii_uppercase())) {
        v.add(
            format!("{field}.currency_code"),
            "must be a three-letter ISO 4217 code, e.g. \"CNY\"",
        );
        ok = false;
    }
    if m.amount_minor <= 0 {
        v.add(format!("{field}.amount_minor"), "must be > 0");
        ok = false;
    }
    ok.then(|| (m.currency_code.clone(), m.amount_minor))
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
            let amount = match &purchase.amount {
                Some(m) => money("purchase.amount", m, v),
                None => {
                    v.add("purchase.amount", "is required");
                    None
                }
            };
            let mut lines = Vec::new();
            for (i, item) in purchase.items.iter().enumerate() {
                let at = format!("purchase.items[{i}]");
                let item_id = text(&format!("{at}.item_id"), &item.item_id, 128, true, v);
                if item.quantity < 1 {
                    v.add(format!("{at}.quantity"), "must be >= 1");
                }
                let price = item.unit_price.as_ref();
                if let (Some(price), Some(m)) = (price, purchase.amount.as_ref()) {
                    if price.currency_code != m.currency_code {
                        v.add(
                            format!("{at}.unit_price.currency_code"),
                            "must be the purchase amount's currency",
                        );
                    }
                    if price.amount_minor < 0 {
                        v.add(
                            format!("{at}.unit_price.amount_minor"),
                            "must not be negative",
                        );
                    }
                }
                lines.push(Line {
                    item_id,
                    quantity: i64::from(item.quantity),
                    unit_price_minor: price.map(|m| m.amount_minor).unwrap_or(0),
                });
            }
            let (currency, amount_minor) = amount?;
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
            positive("goodwill.points", g.points, v);
            let reason = text("goodwill.reason", &g.reason, 500, true, v);
            let actor = text("goodwill.actor", &g.actor, 128, true, v);
            (g.points > 0 && !reason.is_empty() && !actor.is_empty()).then_some(
                EarnSource::Goodwill {
                    points: g.points,
                    reason,
                    actor,
                },
            )
        }
    }
}

/// available_time and expire_time of an Earn: expiry in the future and after availability.
pub fn earn_times(
    available: Option<&prost_types::Timestamp>,
    expire: Option<&prost_types::Timestamp>,
    v: &mut Violations,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let a = super::convert::opt_time(available, "available_time", v);
    let e = super::convert::opt_time(expire, "expire_time", v);
    let now = crate::domain::now();
    if let Some(e) = e {
        if e <= now {
            v.add("expire_time", "must be in the future");
        } else if a.is_some_and(|a| a >= e) {
            v.add("expire_time", "must be after available_time");
        }
    }
    (a, e)
}
