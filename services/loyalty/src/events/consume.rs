//! What loyalty does with other services' events. Each handler runs in the consumer's
//! transaction (inbox row + effects commit together, so a redelivered event is only
//! acknowledged), never calls the producer, and turns an event it cannot apply for good
//! (an unknown order, a purchase older than `max_backdate_days`) into a logged no-op:
//! retrying those would never succeed. A write the ledger refuses (e.g. the balance limit)
//! fails the event: it is retried, then dead-lettered for a replay after the fix.
//!
//! Groups:
//! - `loyalty.customers` ([`CustomerFacts`], customers stream): a purchase activity earns
//!   its points as of its occur time (keyed by its order id, or by the activity's name when
//!   it has none, so an order earned already — by this event or by the Earn RPC — earns
//!   nothing more); a refund reverses that order's points in proportion to the amount.
//!   A merge moves each loser's wallet into the survivor's, an erasure scrubs the
//!   customer's ledger text and reports ErasureCompleted (`service::merge`,
//!   `service::erase`).
//! - `loyalty.tickets` ([`TicketFacts`], tickets stream): a satisfaction answer that owes
//!   goodwill points earns them (EARN_SOURCE_GOODWILL), once.
//!
//! A read's consecutive earns are applied together (`service::consumed_batch`), any other
//! event alone between them; the consumer's commit hook then drops the wallets written from
//! the cache (`service::consumed`).
use crate::domain::{CustomerId, EarnRequest, EarnSource, Program};
use crate::grpc::parse;
use crate::service::LoyaltyService;
use crm_platform::events::{Envelope, Handler, payload_of};
use crm_platform::{Error, Violations};
use crm_proto::customers::ActivityKind;
use crm_proto::events::event::Payload;
use crm_proto::events::types::{
    ACTIVITY_RECORDED, CUSTOMER_ERASED, CUSTOMER_MERGED, REFUND_RECORDED, SATISFACTION_SUBMITTED,
};
use crm_proto::events::{self as ev};
use crm_proto::loyalty as pb;
use sea_orm::DatabaseTransaction;

/// The producers loyalty reads and its groups' names (`loyalty.{name}`).
pub const CUSTOMERS: (&str, &str) = ("customers", "customers");
pub const TICKETS: (&str, &str) = ("tickets", "tickets");

/// Group `loyalty.customers`.
pub struct CustomerFacts(pub LoyaltyService);

/// The customers' event types group `loyalty.customers` applies.
pub const CUSTOMER_TYPES: &[&str] = &[
    ACTIVITY_RECORDED,
    REFUND_RECORDED,
    CUSTOMER_MERGED,
    CUSTOMER_ERASED,
];

impl Facts for CustomerFacts {
    fn types(&self) -> &'static [&'static str] {
        CUSTOMER_TYPES
    }

    fn service(&self) -> &LoyaltyService {
        &self.0
    }

    fn step(&self, event: &Envelope) -> Result<Step, Error> {
        Ok(match payload_of(event)? {
            Payload::ActivityRecorded(a) => match purchase(&a, self.0.program())? {
                Use::Apply(req) => Step::Earn(req),
                Use::Skip(why) => Step::Skip(why),
            },
            other => Step::Other(other),
        })
    }

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
        payload: Payload,
    ) -> Result<(), Error> {
        let svc = &self.0;
        match payload {
            Payload::RefundRecorded(r) => match refund(&r)? {
                Use::Apply(refund) => svc.refund_from_event(txn, event.id, refund).await,
                Use::Skip(why) => skipped(event, &why),
            },
            // Both append their own events (TierChanged, ErasureCompleted) in `txn`.
            Payload::CustomerMerged(m) => {
                svc.merge_customers_in(txn, &m).await?;
                let wallets = merged_wallets(svc, txn, &m).await?;
                svc.consumed_touched(event.id, wallets).await;
                Ok(())
            }
            Payload::CustomerErased(e) => {
                svc.erase_customer_in(txn, &e, &event.id.to_string())
                    .await?;
                let names = std::iter::once(&e.customer).chain(&e.merged_customers);
                let wallets = names.map(|n| customer(n)).collect::<Result<_, _>>()?;
                svc.consumed_touched(event.id, wallets).await;
                Ok(())
            }
            other => skipped(
                event,
                &format!("{} is not applied by loyalty", other.event_type()),
            ),
        }
    }
}

/// The wallets a merge wrote: the losers' and the open wallet the survivor ends in.
async fn merged_wallets(
    svc: &LoyaltyService,
    txn: &DatabaseTransaction,
    m: &ev::CustomerMerged,
) -> Result<Vec<CustomerId>, Error> {
    let mut wallets = vec![svc.survivor_of(txn, customer(&m.survivor)?).await?];
    for l in m.losers.iter().take(crate::service::MAX_LOSERS) {
        wallets.push(customer(l)?);
    }
    Ok(wallets)
}

/// Group `loyalty.tickets`.
pub struct TicketFacts(pub LoyaltyService);

impl Facts for TicketFacts {
    fn types(&self) -> &'static [&'static str] {
        &[SATISFACTION_SUBMITTED]
    }

    fn service(&self) -> &LoyaltyService {
        &self.0
    }

    fn step(&self, event: &Envelope) -> Result<Step, Error> {
        Ok(match payload_of(event)? {
            Payload::SatisfactionSubmitted(s) => match goodwill(&s)? {
                Use::Apply(req) => Step::Earn(req),
                Use::Skip(why) => Step::Skip(why),
            },
            other => Step::Other(other),
        })
    }

    async fn apply(
        &self,
        _txn: &DatabaseTransaction,
        event: &Envelope,
        payload: Payload,
    ) -> Result<(), Error> {
        skipped(
            event,
            &format!("{} is not applied by loyalty", payload.event_type()),
        )
    }
}

/// What one event is to a handler: an earn (batched with its neighbours), nothing, or
/// another write (applied on its own, in order).
pub enum Step {
    Earn(EarnRequest),
    Skip(String),
    Other(Payload),
}

/// What one of loyalty's groups reads: its event types, each event as a [`Step`], and how
/// an event that is no earn applies. [`Consume`] makes it a consumer's [`Handler`].
pub trait Facts: Send + Sync + 'static {
    fn types(&self) -> &'static [&'static str];
    fn service(&self) -> &LoyaltyService;
    fn step(&self, event: &Envelope) -> Result<Step, Error>;
    /// Applies an event that is no earn.
    fn apply(
        &self,
        txn: &DatabaseTransaction,
        event: &Envelope,
        payload: Payload,
    ) -> impl std::future::Future<Output = Result<(), Error>> + Send;
}

/// The handler of a group reading `F`: every read's events applied in runs ([`in_runs`]),
/// the wallets they wrote dropped from the cache once committed.
pub struct Consume<F>(pub F);

impl<F: Facts> Handler for Consume<F> {
    fn event_types(&self) -> &[&str] {
        self.0.types()
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        in_runs(&self.0, txn, &[event]).await
    }

    async fn handle_batch(
        &self,
        txn: &DatabaseTransaction,
        events: &[&Envelope],
    ) -> Result<(), Error> {
        in_runs(&self.0, txn, events).await
    }

    async fn committed(&self, events: &[&Envelope]) {
        let svc = self.0.service();
        svc.consumed_committed(events.iter().map(|e| e.id)).await;
    }
}

/// Applies `events` in order: each run of consecutive earns together
/// ([`LoyaltyService::earn_many_from_events`]), any other event alone between them.
async fn in_runs<F: Facts>(
    facts: &F,
    txn: &DatabaseTransaction,
    events: &[&Envelope],
) -> Result<(), Error> {
    let svc = facts.service();
    let mut run = Vec::new();
    for event in events {
        match facts.step(event)? {
            Step::Earn(req) => run.push((event.id, req)),
            Step::Skip(why) => skipped(event, &why)?,
            Step::Other(payload) => {
                svc.earn_many_from_events(txn, std::mem::take(&mut run))
                    .await?;
                facts.apply(txn, event, payload).await?;
            }
        }
    }
    svc.earn_many_from_events(txn, run).await
}

/// What an event asks of the ledger: a write, or nothing (and why).
#[derive(Debug, PartialEq, Eq)]
pub enum Use<T> {
    Apply(T),
    Skip(String),
}

/// Logs that `event` applies nothing (the inbox row still commits: it is not retried).
fn skipped(event: &Envelope, why: &str) -> Result<(), Error> {
    tracing::info!(event = %event.id, r#type = %event.event_type, subject = %event.subject, why, "event applies nothing to the ledger");
    Ok(())
}

/// A refund of one order: reversed in proportion to `refund` (`None`: the whole order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub customer: CustomerId,
    pub order_id: String,
    pub refund: Option<(String, i64)>,
    /// The ledger's reason: the refund activity's name.
    pub reason: String,
}

/// A malformed event (a producer's bug): failed, so it is retried and dead-lettered.
fn malformed(what: impl std::fmt::Display) -> Error {
    Error::internal(anyhow::anyhow!("malformed event: {what}"))
}

/// The customer an event names: a malformed name is a malformed event (retried, then
/// dead-lettered), never a caller's error.
pub(crate) fn customer(name: &str) -> Result<CustomerId, Error> {
    CustomerId::parse_name(name).map_err(|e| malformed(format!("customer {name:?}: {e}")))
}

fn violations(v: &Violations) -> String {
    format!("{v:?}")
}

/// The Earn of a purchase activity, as of its occur time, by the same rules as the Earn
/// RPC's (amount, currency, items, `max_backdate_days`). Not a purchase, no order, or a
/// purchase the programme does not earn on (too old, a currency it does not take, less
/// than one unit): skipped.
pub fn purchase(a: &ev::ActivityRecorded, p: &Program) -> Result<Use<EarnRequest>, Error> {
    if a.kind != ActivityKind::Purchase as i32 {
        return Ok(Use::Skip("not a purchase".into()));
    }
    let Some(order) = &a.order else {
        return Ok(Use::Skip("a purchase without an order".into()));
    };
    let customer = customer(&a.customer)?;
    // Without an order id the activity keys the points, so a redelivery earns once.
    let order_id = if order.order_id.is_empty() {
        a.activity.clone()
    } else {
        order.order_id.clone()
    };
    let source = pb::earn_request::Source::Purchase(pb::Purchase {
        order_id,
        amount: order.amount.clone(),
        items: order
            .items
            .iter()
            .map(|i| pb::PurchaseItem {
                item_id: i.item_id.clone(),
                quantity: i.quantity,
                unit_price: i.unit_price.clone(),
            })
            .collect(),
        purchase_time: a.occur_time,
    });
    let mut v = Violations::new();
    match parse::earn_source(Some(&source), p, &mut v) {
        Some(source) if v.is_empty() => Ok(Use::Apply(EarnRequest {
            customer,
            source,
            available_time: None,
            expire_time: None,
        })),
        _ => Ok(Use::Skip(format!(
            "the programme earns nothing on it: {}",
            violations(&v)
        ))),
    }
}

/// The reversal a refund asks for. A refund without an amount reverses the whole order.
pub fn refund(r: &ev::RefundRecorded) -> Result<Use<Refund>, Error> {
    let Some(order) = r.order.as_ref().filter(|o| !o.order_id.is_empty()) else {
        return Ok(Use::Skip("a refund without an order".into()));
    };
    if order.amount.as_ref().is_some_and(|m| m.amount_minor <= 0) {
        return Ok(Use::Skip("a refund of no amount".into()));
    }
    Ok(Use::Apply(Refund {
        customer: customer(&r.customer)?,
        order_id: order.order_id.clone(),
        refund: order
            .amount
            .as_ref()
            .map(|m| (m.currency_code.clone(), m.amount_minor)),
        reason: r.activity.clone(),
    }))
}

/// The goodwill a satisfaction answer owes (none: skipped). The ledger's reason names the
/// ticket only: nothing about the customer.
pub fn goodwill(s: &ev::SatisfactionSubmitted) -> Result<Use<EarnRequest>, Error> {
    if s.goodwill_points <= 0 {
        return Ok(Use::Skip("no goodwill owed".into()));
    }
    Ok(Use::Apply(EarnRequest {
        customer: customer(&s.customer)?,
        source: EarnSource::Goodwill {
            points: s.goodwill_points,
            reason: format!("low satisfaction score on {}", s.ticket),
            actor: crate::events::produce::TICKETS_ACTOR.to_owned(),
        },
        available_time: None,
        expire_time: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_platform::validate::to_timestamp;

    fn program() -> Program {
        crate::Settings::load(None)
            .expect("defaults")
            .loyalty
            .program
    }

    fn activity(kind: ActivityKind, order_id: &str, days_ago: i64) -> ev::ActivityRecorded {
        let c = CustomerId::generate().name();
        ev::ActivityRecorded {
            activity: format!("{c}/activities/a1"),
            customer: c,
            kind: kind as i32,
            occur_time: Some(to_timestamp(
                crate::domain::now() - chrono::TimeDelta::days(days_ago),
            )),
            order: Some(ev::Order {
                order_id: order_id.into(),
                amount: Some(crm_proto::common::Money {
                    currency_code: "CNY".into(),
                    amount_minor: 10_000,
                }),
                items: Vec::new(),
            }),
            ..Default::default()
        }
    }

    fn order_of(u: Use<EarnRequest>) -> Option<String> {
        match u {
            Use::Apply(EarnRequest {
                source: EarnSource::Purchase { order_id, .. },
                ..
            }) => Some(order_id),
            _ => None,
        }
    }

    #[test]
    fn purchases_earn_by_order_or_activity_and_only_within_the_backdate_limit() {
        let p = program();
        let a = activity(ActivityKind::Purchase, "o-1", 10);
        assert_eq!(order_of(purchase(&a, &p).expect("ok")), Some("o-1".into()));
        let a = activity(ActivityKind::Purchase, "", 10);
        assert_eq!(
            order_of(purchase(&a, &p).expect("ok")),
            Some(a.activity.clone())
        );
        #[rustfmt::skip]
        let skipped = [
            ("older than max_backdate_days", activity(ActivityKind::Purchase, "o-1", 401)),
            ("not a purchase", activity(ActivityKind::Booking, "o-1", 1)),
            ("no order", ev::ActivityRecorded { order: None, ..activity(ActivityKind::Purchase, "o", 1) }),
        ];
        for (case, a) in skipped {
            let got = purchase(&a, &p).expect(case);
            assert!(matches!(got, Use::Skip(_)), "{case}: {got:?}");
        }
        let bad = ev::ActivityRecorded {
            customer: "people/1".into(),
            ..activity(ActivityKind::Purchase, "o-1", 1)
        };
        assert!(
            purchase(&bad, &p).is_err(),
            "a malformed name fails (dead letter)"
        );
    }

    #[test]
    fn goodwill_only_when_owed() {
        let s = ev::SatisfactionSubmitted {
            ticket: "tickets/t".into(),
            customer: CustomerId::generate().name(),
            goodwill_points: 0,
            ..Default::default()
        };
        assert!(matches!(goodwill(&s), Ok(Use::Skip(_))));
        let owed = ev::SatisfactionSubmitted {
            goodwill_points: 25,
            ..s
        };
        let Ok(Use::Apply(req)) = goodwill(&owed) else {
            panic!("owed goodwill earns")
        };
        assert!(matches!(
            req.source,
            EarnSource::Goodwill { points: 25, .. }
        ));
    }
}
