//! The writes the services acknowledged during the run, which must all be there at the end,
//! and the customers the next purchases, balance reads and tickets are for.
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Each purchase: 10 yuan, so 10 points at the regular tier.
pub const PURCHASE_MINOR: i64 = 1_000;
pub const PURCHASE_POINTS: i64 = 10;
/// Purchases per customer at most: 900 points stay below silver (1,000 qualifying points), so
/// no customer's multiplier changes and each order earns exactly [`PURCHASE_POINTS`] once.
const MAX_PURCHASES: u32 = 90;

#[derive(Default)]
struct Writes {
    /// Created customers, in acknowledgement order.
    customers: Vec<String>,
    /// Purchases sent so far per customer (acknowledged or not), indexed like `customers`.
    purchases_sent: Vec<u32>,
    /// Customers still under [`MAX_PURCHASES`] (indexes into `customers`).
    open: Vec<usize>,
    /// The acknowledged purchases' order ids per customer.
    purchases: BTreeMap<String, Vec<String>>,
    tickets: Vec<String>,
    next_open: usize,
    next_any: usize,
}

#[derive(Default)]
pub struct Acknowledged(Mutex<Writes>);

/// A copy of what was acknowledged, for the checks at the end.
pub struct Snapshot {
    pub customers: Vec<String>,
    pub purchases: BTreeMap<String, Vec<String>>,
    pub tickets: Vec<String>,
}

impl Snapshot {
    pub fn purchases(&self) -> usize {
        self.purchases.values().map(Vec::len).sum()
    }
}

impl Acknowledged {
    pub fn customer(&self, name: String) {
        let mut w = self.lock();
        let i = w.customers.len();
        w.open.push(i);
        w.customers.push(name);
        w.purchases_sent.push(0);
    }

    pub fn purchase(&self, customer: &str, order_id: String) {
        let mut w = self.lock();
        w.purchases
            .entry(customer.to_owned())
            .or_default()
            .push(order_id);
    }

    pub fn ticket(&self, name: String) {
        self.lock().tickets.push(name);
    }

    /// The customer the next purchase is for (in turn among those under the cap), counted as
    /// sent; `None` when there is none yet.
    pub fn customer_to_buy(&self) -> Option<String> {
        let mut w = self.lock();
        if w.open.is_empty() {
            return None;
        }
        let slot = w.next_open % w.open.len();
        w.next_open = w.next_open.wrapping_add(1);
        let i = w.open[slot];
        w.purchases_sent[i] += 1;
        if w.purchases_sent[i] >= MAX_PURCHASES {
            w.open.swap_remove(slot);
        }
        Some(w.customers[i].clone())
    }

    /// Any created customer, in turn (for reads and tickets).
    pub fn any_customer(&self) -> Option<String> {
        let mut w = self.lock();
        if w.customers.is_empty() {
            return None;
        }
        let i = w.next_any % w.customers.len();
        w.next_any = w.next_any.wrapping_add(1);
        Some(w.customers[i].clone())
    }

    pub fn snapshot(&self) -> Snapshot {
        let w = self.lock();
        Snapshot {
            customers: w.customers.clone(),
            purchases: w.purchases.clone(),
            tickets: w.tickets.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writes> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
