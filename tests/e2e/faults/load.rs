//! A stream of purchases for the fault tests: recorded in customers in the background while
//! the test breaks something, then checked in loyalty order by order.
use crate::harness::{Deadline, Suite};
use crate::steps::purchase;
use crm_platform::testing::rid;
use crm_proto::customers as cpb;
use crm_proto::loyalty::TransactionKind;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;

/// Calls in flight while recording (a busy shop, not a bulk import).
const IN_FLIGHT: usize = 16;
/// Each purchase: 10 yuan, 10 points. A customer's orders stay far below silver (1,000
/// qualifying points), so no order is ever re-rated: exactly one Earn per order.
const AMOUNT_MINOR: i64 = 1_000;
const POINTS: i64 = 10;

pub struct Load {
    customers: Vec<String>,
    orders_per_customer: usize,
    recorded: Arc<AtomicUsize>,
}

impl Load {
    /// `customers` new customers with `orders_per_customer` purchases each to record.
    pub async fn new(s: &mut Suite, customers: usize, orders_per_customer: usize) -> Load {
        assert!(orders_per_customer as i64 * POINTS < 1_000, "stays regular");
        let mut names = Vec::with_capacity(customers);
        for i in 0..customers {
            names.push(s.create_customer(&format!("Shopper{i}")).await);
        }
        Load {
            customers: names,
            orders_per_customer,
            recorded: Arc::default(),
        }
    }

    pub fn total(&self) -> usize {
        self.customers.len() * self.orders_per_customer
    }

    /// Purchases recorded (committed in customers) so far.
    pub fn recorded(&self) -> usize {
        self.recorded.load(Ordering::Relaxed)
    }

    /// Records every purchase, customer after customer per round of orders, [`IN_FLIGHT`]
    /// at a time, each retried with its request id until customers answers (so a purchase
    /// is never recorded twice); the task ends when all are recorded.
    pub fn record_in_background(&self, s: &Suite) -> tokio::task::JoinHandle<()> {
        let work: Arc<Vec<(String, String)>> = Arc::new(
            (0..self.orders_per_customer)
                .flat_map(|o| self.customers.iter().map(move |c| (c.clone(), order_id(o))))
                .collect(),
        );
        let next = Arc::new(AtomicUsize::new(0));
        let mut workers = JoinSet::new();
        for _ in 0..IN_FLIGHT {
            let (work, next, recorded) = (work.clone(), next.clone(), self.recorded.clone());
            let mut client = s.customers.clone();
            workers.spawn(async move {
                loop {
                    let Some((customer, order)) = work.get(next.fetch_add(1, Ordering::Relaxed))
                    else {
                        return;
                    };
                    let request = cpb::RecordActivityRequest {
                        parent: customer.clone(),
                        activity: Some(purchase(order, AMOUNT_MINOR, None)),
                        request_id: rid(),
                    };
                    let mut attempts = 0;
                    while let Err(e) = client.record_activity(request.clone()).await {
                        attempts += 1;
                        assert!(attempts < 20, "record {customer} {order}: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    recorded.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        tokio::spawn(async move {
            while let Some(done) = workers.join_next().await {
                done.expect("a recording worker panicked");
            }
        })
    }

    /// Waits until `recorded()` reaches `n`.
    pub async fn await_recorded(&self, n: usize) {
        let deadline = Deadline::after(Duration::from_secs(30), "purchases to be recorded");
        while self.recorded() < n {
            deadline.wait().await;
        }
    }

    /// Whether loyalty has earned on at least one of the purchases yet (the backbone is
    /// flowing), asked of the first customers.
    pub async fn some_earned(&self, s: &mut Suite) -> bool {
        for c in self.customers.iter().take(3) {
            if s.balance(c).await.available > 0 {
                return true;
            }
        }
        false
    }

    /// Waits until every customer has every order's points (at most `timeout`), then checks
    /// the ledger order by order: each purchase earned by exactly one Earn of its points,
    /// and the whole ledger verifies.
    pub async fn assert_each_earned_once(&self, s: &mut Suite, timeout: Duration) {
        let expected = self.orders_per_customer as i64 * POINTS;
        let deadline = Deadline::after(timeout, "every purchase's points");
        for c in &self.customers {
            loop {
                let seen = s.balance(c).await.available;
                // More than every order's points: something earned twice, no need to wait.
                assert!(seen <= expected, "{c}: {seen} points, expected {expected}");
                if seen == expected {
                    break;
                }
                assert!(
                    !deadline.passed(),
                    "{c}: {seen} points, expected {expected}"
                );
                deadline.wait().await;
            }
        }
        for c in &self.customers {
            let mut per_order: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for t in s.transactions(c, &[]).await {
                assert_eq!(t.kind, TransactionKind::Earn as i32, "{c}: {t:?}");
                per_order
                    .entry(t.order_id)
                    .or_default()
                    .push(t.wallet_delta);
            }
            let wanted: BTreeMap<String, Vec<i64>> = (0..self.orders_per_customer)
                .map(|o| (order_id(o), vec![POINTS]))
                .collect();
            assert_eq!(per_order, wanted, "{c}: earns per order");
        }
        s.assert_ledger_consistent("").await;
    }
}

fn order_id(o: usize) -> String {
    format!("order-{o}")
}
