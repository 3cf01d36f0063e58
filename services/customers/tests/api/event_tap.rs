//! Reading what the app published: a consumer group of its own on the customers stream
//! (the in-process bus on SQLite, Redis on PostgreSQL), from the stream's first entry.
use crate::harness::*;
use crm_platform::events::{Envelope, EventBus, PROTOBUF, Subscription, stream_name};
use crm_platform::validate::to_timestamp;
use crm_proto::events as ev;
use prost::Message as _;
use std::time::{Duration, Instant};

/// Longest wait for an event the test expects (the relay runs every `relay_interval_ms`).
const PATIENCE: Duration = Duration::from_secs(15);

pub struct EventTap {
    subscription: Subscription,
}

impl TestApp {
    /// A new group on this app's stream, reading what is published from now on.
    pub async fn tap_events(&mut self) -> EventTap {
        let settings =
            crm_platform::testing::settings::<crm_customers::Customers>(&self.storage, |_| {});
        let events = &crm_platform::app::ServiceSettings::platform(&settings).events;
        let bus = EventBus::from_settings(events).expect("bus");
        let mut tap = EventTap {
            subscription: bus.subscribe(
                &stream_name(events, "customers"),
                &format!("test-{}", rid()),
                "tap",
            ),
        };
        // A new group starts at the stream's first entry: skip what is there already.
        self.published(&mut tap).await;
        tap
    }

    /// Every event published before this call, in order: a marker customer is created, and
    /// the events are read up to its `created` (it committed after them, so it comes after).
    pub async fn published(&mut self, tap: &mut EventTap) -> Vec<ev::Event> {
        let marker = self
            .create(person("Marker", "marker@example.com"))
            .await
            .name;
        let mut out = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            assert!(Instant::now() < deadline, "no marker event; got {out:#?}");
            for e in tap.read().await {
                if e.r#type == ev::types::CUSTOMER_CREATED && e.subject == marker {
                    return out;
                }
                out.push(e);
            }
        }
    }
}

impl EventTap {
    /// What one read returned (possibly nothing), each event checked against its envelope.
    async fn read(&mut self) -> Vec<ev::Event> {
        let deliveries = self
            .subscription
            .read(100, Duration::from_millis(100))
            .await
            .expect("read the stream");
        let ids: Vec<String> = deliveries.iter().map(|d| d.entry_id.clone()).collect();
        self.subscription.ack(&ids).await.expect("ack");
        deliveries
            .iter()
            .map(|d| decode(&d.envelope().expect("an envelope")))
            .collect()
    }
}

/// The `Event` in an envelope's data, whose attributes must be the envelope's.
fn decode(envelope: &Envelope) -> ev::Event {
    let e = ev::Event::decode(envelope.payload.as_slice()).expect("data is an encoded Event");
    assert_eq!(e.id, envelope.id.to_string());
    assert_eq!(e.source, "customers");
    assert_eq!(envelope.source, "customers");
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
