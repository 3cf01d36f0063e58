//! Customers' side of the flows: purchases and refunds recorded, merges and erasures.
use crate::harness::Suite;
use crm_platform::testing::rid;
use crm_proto::common::Money;
use crm_proto::customers as cpb;
use std::time::{Duration, SystemTime};

/// `days` days ago, as a protobuf time.
pub fn days_ago(days: u64) -> prost_types::Timestamp {
    let t = SystemTime::now() - Duration::from_secs(days * 24 * 3600);
    prost_types::Timestamp::from(t)
}

fn yuan(amount_minor: i64) -> Option<Money> {
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

impl Suite {
    /// RecordActivity of `activity` for `customer` (its own request id).
    pub async fn record(&mut self, customer: &str, activity: cpb::Activity) -> cpb::Activity {
        self.record_with(customer, activity, rid()).await
    }

    /// RecordActivity with the caller's request id (a retry sends the same one).
    pub async fn record_with(
        &mut self,
        customer: &str,
        activity: cpb::Activity,
        request_id: String,
    ) -> cpb::Activity {
        self.customers
            .record_activity(cpb::RecordActivityRequest {
                parent: customer.into(),
                activity: Some(activity),
                request_id,
            })
            .await
            .expect("record activity")
            .into_inner()
    }

    /// Merges `losers` into `survivor`.
    pub async fn merge(&mut self, survivor: &str, losers: &[&str]) {
        self.customers
            .merge_customers(cpb::MergeCustomersRequest {
                survivor: survivor.into(),
                merged: losers.iter().map(|l| (*l).to_owned()).collect(),
                request_id: rid(),
                actor: "e2e".into(),
                ..Default::default()
            })
            .await
            .expect("merge customers");
    }
}
