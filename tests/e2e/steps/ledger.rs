//! Loyalty's side of the flows, read through its public API: the ledger and the balance the
//! events produced.
use crate::harness::{Deadline, Suite};
use crm_proto::loyalty as lpb;
use std::time::Duration;

/// Most transactions a test reads of one customer (pages of 1,000).
const MAX_TRANSACTIONS: usize = 20_000;

impl Suite {
    /// Every transaction of `customer` of the `kinds` (empty: all), newest first.
    pub async fn transactions(
        &mut self,
        customer: &str,
        kinds: &[lpb::TransactionKind],
    ) -> Vec<lpb::Transaction> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .loyalty
                .list_transactions(lpb::ListTransactionsRequest {
                    customer: customer.into(),
                    page_size: 1000,
                    page_token,
                    kinds: kinds.iter().map(|k| *k as i32).collect(),
                    ..Default::default()
                })
                .await
                .expect("list transactions")
                .into_inner();
            all.extend(page.transactions);
            assert!(
                all.len() <= MAX_TRANSACTIONS,
                "{customer}: too many transactions"
            );
            if page.next_page_token.is_empty() {
                return all;
            }
            page_token = page.next_page_token;
        }
    }

    /// Adjust of `points` for `reason`, by an agent.
    pub async fn adjust(&mut self, customer: &str, points: i64, reason: &str) {
        self.loyalty
            .adjust(lpb::AdjustRequest {
                customer: customer.into(),
                points,
                reason: reason.into(),
                actor: "agents/ana".into(),
                request_id: crm_platform::testing::rid(),
            })
            .await
            .expect("adjust");
    }

    /// Waits (at most `timeout`) until `customer` has `points` available: the events that
    /// earn or move them are asynchronous. Fails with the balance last seen.
    pub async fn await_available(&mut self, customer: &str, points: i64, timeout: Duration) {
        let deadline = Deadline::after(timeout, "the points to arrive");
        loop {
            let seen = self.balance(customer).await.available;
            if seen == points {
                return;
            }
            assert!(
                !deadline.passed(),
                "{customer}: {seen} points available, expected {points}"
            );
            deadline.wait().await;
        }
    }
}
