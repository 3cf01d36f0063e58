//! Customers' side of the flows: purchases and refunds recorded, merges and erasures.
use crate::harness::Suite;
use crm_platform::testing::rid;
use crm_proto::customers as cpb;

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
