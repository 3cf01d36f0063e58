//! The operations of the mix, each one logical call through [`Retry`]: writes that cross
//! services (a customer; a purchase recorded in customers, which loyalty turns into points
//! from the event backbone; a complaint, which tickets verifies with customers and loyalty)
//! and a read of loyalty. Request shapes: `crm_e2e::requests`, as in the end-to-end tests.
use crate::clients::Clients;
use crate::retry::{Called, Retry, failure_key};
use crate::tally::Tally;
use crate::writes::{Acknowledged, PURCHASE_MINOR};
use crm_e2e::requests;
use crm_proto::{customers as cpb, loyalty as lpb, tickets as tpb};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    CreateCustomer,
    RecordPurchase,
    GetBalance,
    CreateTicket,
}

impl Op {
    pub fn label(self) -> &'static str {
        match self {
            Op::CreateCustomer => "create_customer",
            Op::RecordPurchase => "record_purchase",
            Op::GetBalance => "get_balance",
            Op::CreateTicket => "create_ticket",
        }
    }

    /// The mix's name of the operation (`--mix customer=1,purchase=6,...`).
    fn from_mix_name(name: &str) -> Option<Op> {
        Some(match name {
            "customer" => Op::CreateCustomer,
            "purchase" => Op::RecordPurchase,
            "balance" => Op::GetBalance,
            "ticket" => Op::CreateTicket,
            _ => return None,
        })
    }
}

/// Which operation each call of the run is: the weights laid out in one cycle, call `k`
/// being `cycle[k % len]`; and the text it was given as.
#[derive(Debug, Clone)]
pub struct Mix(Vec<Op>, String);

impl std::fmt::Display for Mix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl Mix {
    pub fn parse(text: &str) -> Result<Mix, String> {
        let mut cycle = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected name=weight"))?;
            let op = Op::from_mix_name(name.trim()).ok_or_else(|| {
                format!("{name:?}: not one of customer, purchase, balance, ticket")
            })?;
            let weight: usize = weight
                .trim()
                .parse()
                .map_err(|e| format!("{part:?}: {e}"))?;
            cycle.extend(std::iter::repeat_n(op, weight));
        }
        if cycle.is_empty() {
            return Err("the mix has no operation".into());
        }
        Ok(Mix(cycle, text.to_owned()))
    }

    pub fn nth(&self, k: u64) -> Op {
        self.0[(k % self.0.len() as u64) as usize]
    }

    pub fn has(&self, op: Op) -> bool {
        self.0.contains(&op)
    }
}

/// Everything a call needs; shared by the calls in flight.
pub struct Run {
    pub clients: Clients,
    pub retry: Retry,
    pub tally: Tally,
    pub acknowledged: Acknowledged,
    /// Makes this run's order ids its own (`load-{run}-{n}`).
    run_id: String,
    orders: AtomicU64,
}

impl Run {
    pub fn new(clients: Clients, retry: Retry) -> Run {
        let mut run_id = uuid::Uuid::new_v4().simple().to_string();
        run_id.truncate(8);
        Run {
            clients,
            retry,
            tally: Tally::default(),
            acknowledged: Acknowledged::default(),
            run_id,
            orders: AtomicU64::new(0),
        }
    }

    /// Performs `op` and counts it. An operation on a customer before any customer was
    /// acknowledged creates one instead.
    pub async fn perform(&self, op: Op) {
        let started = Instant::now();
        let (op, called) = match op {
            Op::RecordPurchase => match self.acknowledged.customer_to_buy() {
                Some(c) => (op, self.record_purchase(&c).await),
                None => (Op::CreateCustomer, self.create_customer().await),
            },
            Op::GetBalance | Op::CreateTicket => match self.acknowledged.any_customer() {
                Some(c) if op == Op::GetBalance => (op, self.get_balance(&c).await),
                Some(c) => (op, self.create_ticket(&c).await),
                None => (Op::CreateCustomer, self.create_customer().await),
            },
            Op::CreateCustomer => (op, self.create_customer().await),
        };
        let failure = called.result.err().map(|s| failure_key(&s));
        self.tally
            .call(op.label(), &called.retried_on, started.elapsed(), failure);
    }

    async fn create_customer(&self) -> Called<()> {
        let request = cpb::CreateCustomerRequest {
            customer: Some(requests::customer("Loadgen")),
            request_id: uuid::Uuid::new_v4().to_string(),
        };
        let called = self
            .retry
            .call(|| {
                let (mut client, request) = (self.clients.customers.pick(), request.clone());
                async move { client.create_customer(request).await }
            })
            .await;
        called.then(|c| self.acknowledged.customer(c.name))
    }

    async fn record_purchase(&self, customer: &str) -> Called<()> {
        let n = self.orders.fetch_add(1, Ordering::Relaxed);
        let order_id = format!("load-{}-{n}", self.run_id);
        let request = cpb::RecordActivityRequest {
            parent: customer.to_owned(),
            activity: Some(requests::purchase(&order_id, PURCHASE_MINOR, None)),
            request_id: uuid::Uuid::new_v4().to_string(),
        };
        let called = self
            .retry
            .call(|| {
                let (mut client, request) = (self.clients.customers.pick(), request.clone());
                async move { client.record_activity(request).await }
            })
            .await;
        called.then(|_| self.acknowledged.purchase(customer, order_id))
    }

    async fn get_balance(&self, customer: &str) -> Called<()> {
        let request = lpb::GetBalanceRequest {
            customer: customer.to_owned(),
        };
        let called = self
            .retry
            .call(|| {
                let (mut client, request) = (self.clients.loyalty.pick(), request.clone());
                async move { client.get_balance(request).await }
            })
            .await;
        called.then(|_| ())
    }

    async fn create_ticket(&self, customer: &str) -> Called<()> {
        let tickets = self
            .clients
            .tickets
            .as_ref()
            .expect("a mix with tickets has a tickets URL (checked at start)");
        let request = tpb::CreateTicketRequest {
            ticket: Some(requests::complaint(customer)),
            request_id: uuid::Uuid::new_v4().to_string(),
        };
        let called = self
            .retry
            .call(|| {
                let (mut client, request) = (tickets.pick(), request.clone());
                async move { client.create_ticket(request).await }
            })
            .await;
        called.then(|t| self.acknowledged.ticket(t.name))
    }
}

impl<T> Called<T> {
    /// Runs `acknowledged` on the answer, if there is one.
    fn then(self, acknowledged: impl FnOnce(T)) -> Called<()> {
        Called {
            result: self.result.map(acknowledged),
            retried_on: self.retried_on,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_cycles_through_its_weights() {
        let mix = Mix::parse("customer=1, purchase=2,balance=0").expect("a mix");
        let ops: Vec<Op> = (0..6).map(|k| mix.nth(k)).collect();
        use Op::*;
        assert_eq!(
            ops,
            [
                CreateCustomer,
                RecordPurchase,
                RecordPurchase,
                CreateCustomer,
                RecordPurchase,
                RecordPurchase
            ]
        );
        assert!(!mix.has(GetBalance));
        for bad in ["", "customer=0", "refund=1", "customer", "customer=x"] {
            assert!(Mix::parse(bad).is_err(), "{bad:?}");
        }
    }
}
