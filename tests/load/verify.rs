//! The checks after the load: every acknowledged write is there. Each customer and ticket
//! reads back (a NOT_FOUND, or a read that keeps failing, counts as missing), and every
//! acknowledged purchase earns its points in loyalty exactly once within the points wait
//! (read per order from the customer's Earn transactions, so a purchase that was committed
//! but timed out on the way back, which earns too, does not hide a lost one).
use crate::ops::Run;
use crate::writes::{PURCHASE_POINTS, Snapshot};
use crm_proto::{customers as cpb, loyalty as lpb, tickets as tpb};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Reads in flight at once while checking.
const IN_FLIGHT: usize = 16;
/// Customers whose unearned orders are listed on stderr when the wait ends (the count is
/// in the report).
const MISSING_LISTED: usize = 10;
/// Pause between two looks at the purchases still without points.
const POINTS_POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct Verdict {
    /// Acknowledged customers and tickets that do not read back.
    pub missing: u64,
    /// Of those, reads that failed otherwise than NOT_FOUND (after retries).
    pub read_errors: u64,
    /// Acknowledged purchases without their Earn when the wait ended.
    pub points_missing: u64,
    /// Acknowledged purchases earned more than once, or not at [`PURCHASE_POINTS`].
    pub points_wrong: u64,
    /// How long loyalty took to earn every acknowledged purchase, from the end of the load.
    pub points_after: Duration,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.missing == 0 && self.points_missing == 0 && self.points_wrong == 0
    }
}

pub async fn verify(run: &Arc<Run>, acked: &Snapshot, points_wait: Duration) -> Verdict {
    let started = Instant::now();
    let mut v = Verdict::default();
    let reads = acked
        .customers
        .iter()
        .map(|c| Read::Customer(c.clone()))
        .chain(acked.tickets.iter().map(|t| Read::Ticket(t.clone())));
    for found in each(run, reads, read_back).await {
        match found {
            ReadBack::Found => {}
            ReadBack::NotFound => v.missing += 1,
            ReadBack::Failed => {
                v.missing += 1;
                v.read_errors += 1;
            }
        }
    }

    let mut pending: BTreeMap<String, Vec<String>> = acked.purchases.clone();
    let until = started + points_wait;
    loop {
        let customers: Vec<(String, Vec<String>)> =
            std::mem::take(&mut pending).into_iter().collect();
        for (customer, mut orders, wrong) in each(run, customers.into_iter(), unearned).await {
            v.points_wrong += wrong;
            if orders.is_empty() {
                continue;
            }
            orders.sort();
            pending.insert(customer, orders);
        }
        if pending.is_empty() || Instant::now() >= until {
            break;
        }
        tokio::time::sleep(POINTS_POLL).await;
    }
    v.points_missing = pending.values().map(|o| o.len() as u64).sum();
    for (customer, orders) in pending.iter().take(MISSING_LISTED) {
        eprintln!("loadgen: no points for {customer}'s acknowledged orders {orders:?}");
    }
    v.points_after = started.elapsed();
    v
}

enum Read {
    Customer(String),
    Ticket(String),
}

/// What reading an acknowledged write back gave.
enum ReadBack {
    Found,
    NotFound,
    Failed,
}

async fn read_back(run: Arc<Run>, read: Read) -> ReadBack {
    let result = match &read {
        Read::Customer(name) => {
            let request = cpb::GetCustomerRequest { name: name.clone() };
            run.retry
                .call(|| {
                    let (mut client, request) = (run.clients.customers.pick(), request.clone());
                    async move { client.get_customer(request).await }
                })
                .await
                .result
                .map(drop)
        }
        Read::Ticket(name) => {
            let request = tpb::GetTicketRequest { name: name.clone() };
            let tickets = run.clients.tickets.as_ref().expect("tickets were created");
            run.retry
                .call(|| {
                    let (mut client, request) = (tickets.pick(), request.clone());
                    async move { client.get_ticket(request).await }
                })
                .await
                .result
                .map(drop)
        }
    };
    match result {
        Ok(()) => ReadBack::Found,
        Err(s) => {
            let name = match read {
                Read::Customer(n) | Read::Ticket(n) => n,
            };
            eprintln!("loadgen: acknowledged {name} does not read back: {s}");
            if s.code() == tonic::Code::NotFound {
                ReadBack::NotFound
            } else {
                ReadBack::Failed
            }
        }
    }
}

/// Of a customer's acknowledged `orders`, those loyalty has not earned yet (all of them when
/// its transactions cannot be read now), and how many it earned wrongly.
async fn unearned(
    run: Arc<Run>,
    (customer, orders): (String, Vec<String>),
) -> (String, Vec<String>, u64) {
    let mut earned: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut page_token = String::new();
    loop {
        let request = lpb::ListTransactionsRequest {
            customer: customer.clone(),
            page_size: 1000,
            page_token,
            kinds: vec![lpb::TransactionKind::Earn as i32],
            ..Default::default()
        };
        let page = run
            .retry
            .call(|| {
                let (mut client, request) = (run.clients.loyalty.pick(), request.clone());
                async move { client.list_transactions(request).await }
            })
            .await
            .result;
        let page = match page {
            Ok(page) => page,
            Err(s) => {
                eprintln!("loadgen: cannot read the transactions of {customer}: {s}");
                return (customer, orders, 0);
            }
        };
        for t in page.transactions {
            earned.entry(t.order_id).or_default().push(t.wallet_delta);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut wrong = 0;
    let unearned = orders
        .into_iter()
        .filter(|o| match earned.get(o) {
            None => true,
            Some(deltas) => {
                if deltas.as_slice() != [PURCHASE_POINTS] {
                    eprintln!(
                        "loadgen: {customer} {o} earned {deltas:?}, expected [{PURCHASE_POINTS}]"
                    );
                    wrong += 1;
                }
                false
            }
        })
        .collect();
    (customer, unearned, wrong)
}

/// `check` of every item, [`IN_FLIGHT`] at a time; the answers in no particular order.
async fn each<I, T, F, Fut>(run: &Arc<Run>, items: I, check: F) -> Vec<T>
where
    I: Iterator,
    I::Item: Send + 'static,
    T: Send + 'static,
    F: Fn(Arc<Run>, I::Item) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let mut out = Vec::new();
    let mut in_flight = JoinSet::new();
    for item in items {
        if in_flight.len() >= IN_FLIGHT
            && let Some(done) = in_flight.join_next().await
        {
            out.push(done.expect("a check panicked"));
        }
        in_flight.spawn(check(run.clone(), item));
    }
    while let Some(done) = in_flight.join_next().await {
        out.push(done.expect("a check panicked"));
    }
    out
}
