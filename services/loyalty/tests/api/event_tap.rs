//! The test's end of the event backbone: reading what loyalty published (a consumer group
//! of its own on the loyalty stream, from the stream's first entry), and feeding loyalty
//! events as the customers and tickets services publish them (envelopes appended to their
//! streams on the app's bus: in process on SQLite, Redis on PostgreSQL).
use crate::harness::*;
use crm_platform::events::{Envelope, EventBus, Events, PROTOBUF, Subscription, stream_name};
use crm_platform::validate::to_timestamp;
use crm_proto::events::event::Payload;
use crm_proto::events::{self as ev, types};
use crm_proto::loyalty as pb;
use prost::Message as _;
use std::time::{Duration, Instant};

/// Longest wait for an event or an effect the test expects.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct EventTap {
    subscription: Subscription,
}

fn events_settings(app: &TestApp) -> crm_platform::config::EventsSettings {
    let settings = crm_platform::testing::settings::<crm_loyalty::Loyalty>(&app.storage, |_| {});
    crm_platform::app::ServiceSettings::platform(&settings)
        .events
        .clone()
}

impl TestApp {
    /// A new group on loyalty's stream, reading what is published from now on.
    pub async fn tap_events(&mut self) -> EventTap {
        let events = events_settings(self);
        let bus = EventBus::from_settings(&events).expect("bus");
        let mut tap = EventTap {
            subscription: bus.subscribe(
                &stream_name(&events, "loyalty"),
                &format!("test-{}", rid()),
                "tap",
            ),
        };
        // A new group starts at the stream's first entry: skip what is there already.
        self.published(&mut tap).await;
        tap
    }

    /// Every event published before this call, in order: a marker customer earns a review,
    /// and the events are read up to its PointsEarned (committed after them, so after them).
    pub async fn published(&mut self, tap: &mut EventTap) -> Vec<ev::Event> {
        let marker = new_customer();
        self.client
            .earn(pb::EarnRequest {
                customer: marker.clone(),
                source: Some(pb::earn_request::Source::Action("review".into())),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("marker earn");
        let mut out = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            assert!(Instant::now() < deadline, "no marker event; got {out:#?}");
            for e in tap.read().await {
                if e.r#type == types::POINTS_EARNED && e.subject == marker {
                    return out;
                }
                out.push(e);
            }
        }
    }

    /// A producer of `source`'s events on this app's bus, as that service would publish them.
    pub async fn producer(&self, source: &'static str) -> Producer {
        let settings = events_settings(self);
        let db = sea_orm::Database::connect(self.db_url.as_str())
            .await
            .expect("db");
        Producer {
            events: Events::new(&settings, source, db).expect("events"),
            stream: stream_name(&settings, source),
            max_len: settings.stream_max_len,
            group: format!("loyalty.{source}"),
            source,
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
    assert_eq!(
        (e.source.as_str(), envelope.source.as_str()),
        ("loyalty", "loyalty")
    );
    assert_eq!(e.r#type, envelope.event_type);
    assert_eq!(e.subject, envelope.subject);
    assert_eq!(e.time, Some(to_timestamp(envelope.time)));
    assert_eq!(envelope.content_type, PROTOBUF);
    assert_eq!(e.schema_version, ev::SCHEMA_VERSION);
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

/// Another service's end of the bus: appends its typed events to its stream.
pub struct Producer {
    events: Events,
    stream: String,
    max_len: u64,
    /// Loyalty's group on this stream.
    group: String,
    source: &'static str,
}

impl Producer {
    /// The envelope of `payload` about `subject`, not published yet (to publish it twice).
    pub fn envelope(&self, subject: &str, payload: Payload) -> Envelope {
        self.events.typed(subject, payload)
    }

    pub async fn publish(&self, envelopes: &[Envelope]) {
        self.events
            .bus()
            .publish(&self.stream, envelopes, self.max_len)
            .await
            .expect("publish");
    }

    pub async fn send(&self, subject: &str, payload: Payload) -> Envelope {
        let e = self.envelope(subject, payload);
        self.publish(std::slice::from_ref(&e)).await;
        e
    }

    /// Entries loyalty's group has been given and not acknowledged (0: every event was
    /// applied or deliberately skipped, none is failing).
    pub async fn pending(&self) -> u64 {
        self.events
            .bus()
            .subscribe(&self.stream, &self.group, "test-probe")
            .pending()
            .await
            .expect("pending")
    }

    pub async fn dead_letters(&self) -> usize {
        self.events
            .dead_letters(self.source, crm_platform::events::TimeRange::all(), 100)
            .await
            .expect("dead letters")
            .len()
    }
}
