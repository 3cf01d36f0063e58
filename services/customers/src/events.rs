//! The events customers publishes (`crm.events.v1`, README "Events"): one named conversion
//! per fact, domain -> payload, and [`CustomerEvents::append`], which writes them to the
//! outbox in the transaction of the change they report.
use crate::domain::changes::{self, ConsentChange};
use crate::domain::{Activity, ActivityKind, Customer, CustomerId};
use crate::grpc::convert::{CHANNELS, KINDS, STAGES, code_of, consent_state, money, purchase_item};
use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use crm_platform::Error;
use crm_platform::events::{Envelope, Events, outbox};
use crm_platform::validate::to_timestamp;
use crm_proto::events::{self as ev, DATA_CONTENT_TYPE, SCHEMA_VERSION, SPEC_VERSION};
use ev::event::Payload;
use prost::Message as _;
use sea_orm::ConnectionTrait;

/// Customers' handle on the backbone: envelopes of source "customers" into the outbox.
#[derive(Clone)]
pub struct CustomerEvents {
    events: Events,
}

impl CustomerEvents {
    pub fn new(events: Events) -> Self {
        Self { events }
    }

    /// The envelope of `payload` about `customer`: its data is the whole encoded `Event`,
    /// whose attributes are the envelope's (same id, source, type, subject, time, trace).
    pub fn envelope(&self, customer: CustomerId, payload: Payload) -> Envelope {
        let mut envelope = self
            .events
            .envelope(payload.event_type(), customer.name(), Vec::new())
            .with_schema_version(SCHEMA_VERSION.unsigned_abs())
            .with_content_type(DATA_CONTENT_TYPE);
        // The outbox keeps microseconds: cut here so the payload's time is the envelope's.
        envelope.time = envelope
            .time
            .duration_trunc(TimeDelta::microseconds(1))
            .unwrap_or(envelope.time);
        envelope.payload = ev::Event {
            id: envelope.id.to_string(),
            source: envelope.source.clone(),
            r#type: envelope.event_type.clone(),
            subject: envelope.subject.clone(),
            time: Some(to_timestamp(envelope.time)),
            data_content_type: DATA_CONTENT_TYPE.to_owned(),
            schema_version: SCHEMA_VERSION,
            traceparent: envelope.traceparent.clone(),
            spec_version: SPEC_VERSION.to_owned(),
            payload: Some(payload),
        }
        .encode_to_vec();
        envelope
    }

    /// Appends `payloads` about `customer` in `txn`, after the write they report (so the
    /// customer's events are in commit order).
    pub async fn append(
        &self,
        txn: &impl ConnectionTrait,
        customer: CustomerId,
        payloads: Vec<Payload>,
    ) -> Result<(), Error> {
        let envelopes: Vec<Envelope> = payloads
            .into_iter()
            .map(|p| self.envelope(customer, p))
            .collect();
        outbox::append_all(txn, &envelopes).await
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
