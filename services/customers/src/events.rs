//! The events customers publishes (`crm.events.v1`, README "Events"): one named conversion
//! per fact, domain -> payload, and [`CustomerEvents::append`], which writes them to the
//! outbox in the transaction of the change they report.
use crate::domain::changes::{self, ConsentChange};
use crate::domain::{Activity, ActivityKind, Customer, CustomerId};
use crate::grpc::convert::{CHANNELS, KINDS, STAGES, code_of, consent_state, money, purchase_item};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::events::Events;
use crm_platform::validate::to_timestamp;
use crm_proto::events as ev;
use ev::event::Payload;
use sea_orm::ConnectionTrait;

/// Customers' handle on the backbone: typed events of source "customers" into the outbox.
#[derive(Clone)]
pub struct CustomerEvents {
    events: Events,
}

impl CustomerEvents {
    pub fn new(events: Events) -> Self {
        Self { events }
    }

    /// Appends `payloads` about `customer` in `txn`, after the write they report (so the
    /// customer's events are in commit order).
    pub async fn append(
        &self,
        txn: &impl ConnectionTrait,
        customer: CustomerId,
        payloads: Vec<Payload>,
    ) -> Result<(), Error> {
        self.events.append(txn, customer.name(), payloads).await?;
        Ok(())
    }

    /// Appends the erasure of `customer` in `txn`; returns the event's id, which the other
    /// services' ErasureCompleted answer.
    pub async fn append_erased(
        &self,
        txn: &impl ConnectionTrait,
        customer: CustomerId,
        merged: &[CustomerId],
        time: DateTime<Utc>,
    ) -> Result<uuid::Uuid, Error> {
        let ids = self
            .events
            .append(txn, customer.name(), vec![erased(customer, merged, time)])
            .await?;
        Ok(ids[0])
    }
}

/// A new customer, and the consent decisions it came with.
pub fn created(c: &Customer) -> Vec<Payload> {
    let mut out = vec![Payload::CustomerCreated(ev::CustomerCreated {
        customer: c.id.name(),
        external_id: c.profile.external_id.clone().unwrap_or_default(),
        lifecycle_stage: code_of(STAGES, c.profile.lifecycle_stage),
        create_time: Some(to_timestamp(c.create_time)),
    })];
    out.extend(consents_changed(c.id, &[], &c.profile.consents));
    out
}

/// A changed customer: the fields that changed (nothing when none did), and each consent
/// decision that changed.
pub fn updated(before: &Customer, after: &Customer) -> Vec<Payload> {
    let fields = changes::changed_fields(before, after);
    let mut out = Vec::new();
    if !fields.is_empty() {
        out.push(Payload::CustomerUpdated(ev::CustomerUpdated {
            customer: after.id.name(),
            changed_fields: fields.into_iter().map(str::to_owned).collect(),
            lifecycle_stage: code_of(STAGES, after.profile.lifecycle_stage),
            etag: after.etag(),
            update_time: Some(to_timestamp(after.update_time)),
        }));
    }
    out.extend(consents_changed(
        after.id,
        &before.profile.consents,
        &after.profile.consents,
    ));
    out
}

fn consents_changed(
    customer: CustomerId,
    before: &[crate::domain::Consent],
    after: &[crate::domain::Consent],
) -> impl Iterator<Item = Payload> {
    changes::consent_changes(before, after)
        .into_iter()
        .map(move |c| consent_changed(customer, &c))
}

pub fn consent_changed(customer: CustomerId, c: &ConsentChange) -> Payload {
    Payload::ConsentChanged(ev::ConsentChanged {
        customer: customer.name(),
        channel: code_of(CHANNELS, c.channel),
        state: consent_state(c.granted),
        previous_state: c.previously_granted.map(consent_state).unwrap_or(0),
        source: c.source.clone(),
        update_time: Some(to_timestamp(c.update_time)),
    })
}

pub fn deleted(c: &Customer) -> Payload {
    Payload::CustomerDeleted(ev::CustomerDeleted {
        customer: c.id.name(),
        delete_time: Some(to_timestamp(c.delete_time.unwrap_or(c.update_time))),
    })
}

pub fn merged(
    survivor: CustomerId,
    losers: &[CustomerId],
    actor: &str,
    time: DateTime<Utc>,
) -> Payload {
    Payload::CustomerMerged(ev::CustomerMerged {
        survivor: survivor.name(),
        losers: losers.iter().map(|l| l.name()).collect(),
        actor: actor.to_owned(),
        merge_time: Some(to_timestamp(time)),
    })
}

/// An erasure: names and a time only, nothing about the person.
pub fn erased(customer: CustomerId, merged: &[CustomerId], time: DateTime<Utc>) -> Payload {
    Payload::CustomerErased(ev::CustomerErased {
        customer: customer.name(),
        merged_customers: merged.iter().map(|m| m.name()).collect(),
        erase_time: Some(to_timestamp(time)),
    })
}

/// A recorded activity: a refund is its own fact (never countable as a purchase), every
/// other kind an activity, with its order when it has an amount.
pub fn activity_recorded(a: &Activity) -> Payload {
    let order = a.amount.as_ref().map(|amount| ev::Order {
        order_id: a.reference.clone(),
        amount: Some(money(amount)),
        items: a.items.iter().map(purchase_item).collect(),
    });
    if a.kind == ActivityKind::Refund {
        return Payload::RefundRecorded(ev::RefundRecorded {
            activity: a.name(),
            customer: a.customer.name(),
            occur_time: Some(to_timestamp(a.occur_time)),
            channel: a.channel.clone(),
            order,
        });
    }
    Payload::ActivityRecorded(ev::ActivityRecorded {
        activity: a.name(),
        customer: a.customer.name(),
        kind: code_of(KINDS, a.kind),
        occur_time: Some(to_timestamp(a.occur_time)),
        channel: a.channel.clone(),
        order,
        item_id: a.item_id.clone(),
        rating: a.rating,
    })
}
