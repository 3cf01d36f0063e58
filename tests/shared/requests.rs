//! Request builders of the public API: a customer, a purchase or refund, a complaint.
use crm_proto::common::Money;
use crm_proto::{customers as cpb, tickets as tpb};
use std::time::{Duration, SystemTime};

/// A new customer called `given_name` Li, on an e-mail address of their own (unique, so any
/// number of them can be created in one database).
pub fn customer(given_name: &str) -> cpb::Customer {
    cpb::Customer {
        display_name: format!("{given_name} Li"),
        given_name: given_name.into(),
        primary_email: format!(
            "{}.{}@example.com",
            given_name.to_lowercase(),
            uuid::Uuid::new_v4().simple()
        ),
        ..Default::default()
    }
}

/// `days` days ago, as a protobuf time.
pub fn days_ago(days: u64) -> prost_types::Timestamp {
    let t = SystemTime::now() - Duration::from_secs(days * 24 * 3600);
    prost_types::Timestamp::from(t)
}

/// `amount_minor` fen.
pub fn yuan(amount_minor: i64) -> Option<Money> {
    Some(Money {
        currency_code: "CNY".into(),
        amount_minor,
    })
}

/// A purchase of order `order_id` for `amount_minor` fen, at `at` (now when `None`).
pub fn purchase(
    order_id: &str,
    amount_minor: i64,
    at: Option<prost_types::Timestamp>,
) -> cpb::Activity {
    cpb::Activity {
        kind: cpb::ActivityKind::Purchase as i32,
        occur_time: Some(at.unwrap_or_else(|| SystemTime::now().into())),
        channel: "web".into(),
        amount: yuan(amount_minor),
        reference: order_id.into(),
        ..Default::default()
    }
}

/// `amount_minor` fen of order `order_id` paid back now, no items returned.
pub fn refund(order_id: &str, amount_minor: i64) -> cpb::Activity {
    cpb::Activity {
        kind: cpb::ActivityKind::Refund as i32,
        amount: yuan(amount_minor),
        ..purchase(order_id, 0, None)
    }
}

/// A complaint by `customer`, by e-mail.
pub fn complaint(customer: &str) -> tpb::Ticket {
    tpb::Ticket {
        customer: customer.into(),
        channel: tpb::Channel::Email as i32,
        category: tpb::Category::Complaint as i32,
        subject: "The kettle leaks".into(),
        description: "Bought last week, leaks from the base.".into(),
        ..Default::default()
    }
}
