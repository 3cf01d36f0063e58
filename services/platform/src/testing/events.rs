//! The backbone from a test's side: a [`Tap`] reads what a service published (a consumer
//! group of the test's own on its stream), a [`Producer`] publishes as another service
//! would (typed envelopes appended to that service's stream), [`eventually`] waits for a
//! consumed event's effect. All on the app's own bus (in process on SQLite, Redis on
//! PostgreSQL), from its settings' `[events]`.
use crate::config::EventsSettings;
use crate::events::{
    DeadLetter, Envelope, EventBus, PROTOBUF, Subscription, TimeRange, stream_name, typed,
};
use crate::validate::to_timestamp;
use crm_proto::events::{self as ev, event::Payload};
use prost::Message as _;
use std::future::Future;
use std::time::{Duration, Instant};

/// Longest wait for an event or an effect a test expects (relays and consumers poll).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A test's consumer group on `producer`'s stream, from the stream's first entry.
pub struct Tap {
    subscription: Subscription,
    producer: String,
}

impl Tap {
    pub fn new(settings: &EventsSettings, producer: &str) -> Self {
        let bus = EventBus::from_settings(settings).expect("event bus");
        let group = format!("test-{}", uuid::Uuid::new_v4().simple());
        Self {
            subscription: bus.subscribe(&stream_name(settings, producer), &group, "tap"),
            producer: producer.to_owned(),
        }
    }

    /// What one read returned (possibly nothing), acknowledged, each event checked against
    /// its envelope ([`checked_event`]).
    pub async fn read(&mut self) -> Vec<ev::Event> {
        let deliveries = self
            .subscription
            .read(100, Duration::from_millis(100))
            .await
            .expect("read the stream");
        let ids: Vec<String> = deliveries.iter().map(|d| d.entry_id.clone()).collect();
        self.subscription.ack(&ids).await.expect("ack");
        deliveries
            .iter()
            .map(|d| checked_event(&d.envelope().expect("an envelope"), &self.producer))
            .collect()
    }

    /// Every event before the one of type `marker_type` about `marker_subject` (a write the
    /// test made after the ones it looks at: it committed after them, so it comes after).
    pub async fn read_until(&mut self, marker_type: &str, marker_subject: &str) -> Vec<ev::Event> {
        let mut out = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            assert!(Instant::now() < deadline, "no marker event; got {out:#?}");
            for e in self.read().await {
                if e.r#type == marker_type && e.subject == marker_subject {
                    return out;
                }
                out.push(e);
            }
        }
    }
}

/// The `Event` in `envelope`'s data from `source`, whose attributes must be the envelope's.
pub fn checked_event(envelope: &Envelope, source: &str) -> ev::Event {
    let e = ev::Event::decode(envelope.payload.as_slice()).expect("data is an encoded Event");
    assert_eq!(e.id, envelope.id.to_string());
    assert_eq!(
        (e.source.as_str(), envelope.source.as_str()),
        (source, source)
    );
    assert_eq!(e.r#type, envelope.event_type);
    assert_eq!(e.subject, envelope.subject);
    assert_eq!(e.time, Some(to_timestamp(envelope.time)));
    assert_eq!(e.traceparent, envelope.traceparent);
    assert_eq!(
        (e.data_content_type.as_str(), envelope.content_type.as_str()),
        (PROTOBUF, PROTOBUF)
    );
    assert_eq!(e.schema_version, ev::SCHEMA_VERSION);
    assert_eq!(
        i64::from(envelope.schema_version),
        i64::from(e.schema_version)
    );
    assert_eq!(e.spec_version, ev::SPEC_VERSION);
    let payload = e.payload.as_ref().expect("a payload");
    assert_eq!(
        payload.event_type(),
        e.r#type,
        "type names the payload case"
    );
    e
}

/// (type, subject) of each event, for comparing whole sequences.
pub fn kinds(events: &[ev::Event]) -> Vec<(&str, &str)> {
    events
        .iter()
        .map(|e| (e.r#type.as_str(), e.subject.as_str()))
        .collect()
}

/// Another service's end of the bus: appends its typed events to its stream, as its relay
/// would.
pub struct Producer {
    bus: EventBus,
    settings: EventsSettings,
    source: String,
}

impl Producer {
    pub fn new(settings: &EventsSettings, source: &str) -> Self {
        Self {
            bus: EventBus::from_settings(settings).expect("event bus"),
            settings: settings.clone(),
            source: source.to_owned(),
        }
    }

    /// The service it publishes as.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn stream(&self) -> String {
        stream_name(&self.settings, &self.source)
    }

    /// The envelope of `payload` about `subject`, not published yet (to publish it twice).
    pub fn envelope(&self, subject: &str, payload: Payload) -> Envelope {
        typed(&self.source, subject, payload)
    }

    /// Appends `envelopes` (again: a redelivery).
    pub async fn publish(&self, envelopes: &[Envelope]) {
        self.bus
            .publish(&self.stream(), envelopes, self.settings.stream_max_len)
            .await
            .expect("publish");
    }

    /// Publishes a new event of `payload` about `subject`; returns its envelope.
    pub async fn send(&self, subject: &str, payload: Payload) -> Envelope {
        let e = self.envelope(subject, payload);
        self.publish(std::slice::from_ref(&e)).await;
        e
    }

    /// Entries `group` has been given and not acknowledged (0: each was applied or
    /// deliberately skipped, none is failing).
    pub async fn pending(&self, group: &str) -> u64 {
        self.bus
            .subscribe(&self.stream(), group, "test-probe")
            .pending()
            .await
            .expect("pending")
    }

    pub async fn dead_letters(&self) -> Vec<DeadLetter> {
        self.bus
            .dead_letters(&self.stream(), TimeRange::all(), 100)
            .await
            .expect("dead letters")
    }
}

/// Polls `check` until it holds (an effect of a consumed event), or fails after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
