//! The suite's events as typed `crm.events.v1.Event` messages: a producer hands a payload,
//! gets an [`Envelope`] whose data is the whole encoded `Event` (its attributes repeated, so
//! a stream entry reads alone); a consumer gets the payload back with [`payload_of`].
use super::envelope::Envelope;
use super::{Events, outbox};
use crate::Error;
use crate::validate::to_timestamp;
use chrono::{DurationRound as _, TimeDelta};
use crm_proto::events::{self as ev, DATA_CONTENT_TYPE, SCHEMA_VERSION, SPEC_VERSION};
use ev::event::Payload;
use prost::Message as _;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

impl Events {
    /// The envelope of `payload` about `subject` (a resource name), happening now.
    pub fn typed(&self, subject: impl Into<String>, payload: Payload) -> Envelope {
        typed(self.service(), subject, payload)
    }

    /// Appends `payloads` about `subject` to the outbox in `txn`, in order; returns their
    /// event ids. Call it after the write they report, so a subject's events are in commit
    /// order.
    pub async fn append(
        &self,
        txn: &impl ConnectionTrait,
        subject: impl Into<String>,
        payloads: Vec<Payload>,
    ) -> Result<Vec<Uuid>, Error> {
        let subject = subject.into();
        self.append_about(txn, payloads.into_iter().map(|p| (subject.clone(), p)))
            .await
    }

    /// Appends each payload about its own subject, in order, with one statement; returns
    /// their event ids.
    pub async fn append_about(
        &self,
        txn: &impl ConnectionTrait,
        payloads: impl IntoIterator<Item = (String, Payload)>,
    ) -> Result<Vec<Uuid>, Error> {
        let envelopes: Vec<Envelope> = payloads
            .into_iter()
            .map(|(subject, p)| self.typed(subject, p))
            .collect();
        if !envelopes.is_empty() {
            outbox::append_all(txn, &envelopes).await?;
        }
        Ok(envelopes.iter().map(|e| e.id).collect())
    }
}

/// The envelope of `payload` from `source` about `subject`, happening now: its data is the
/// whole encoded `Event`, whose attributes are the envelope's (id, type, time, trace).
pub fn typed(source: &str, subject: impl Into<String>, payload: Payload) -> Envelope {
    let mut envelope = Envelope::new(source, payload.event_type(), subject, Vec::new())
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

/// The typed payload of `envelope`. An envelope that is no `Event`, or one without a payload
/// case this build knows (a newer producer), is an error: the consumer retries it and, if
/// it stays unreadable, dead-letters it for a replay after an upgrade.
pub fn payload_of(envelope: &Envelope) -> Result<Payload, Error> {
    let event = ev::Event::decode(envelope.payload.as_slice()).map_err(|e| {
        Error::internal(anyhow::anyhow!(
            "event {} ({}) is no crm.events.v1.Event: {e}",
            envelope.id,
            envelope.event_type
        ))
    })?;
    event.payload.ok_or_else(|| {
        Error::internal(anyhow::anyhow!(
            "event {} ({}) has no payload this build knows",
            envelope.id,
            envelope.event_type
        ))
    })
}
