//! The backbone from a test's side: reading what the app published on the tickets stream (a
//! consumer group of the test's own, the in-process bus on SQLite, Redis on PostgreSQL) and
//! feeding customers' events into the customers stream the app consumes.
use crate::harness::*;
use crm_platform::events::{Envelope, EventBus, Events, PROTOBUF, Subscription, stream_name};
use crm_platform::validate::to_timestamp;
use crm_proto::events as ev;
use crm_proto::tickets as pb;
use prost::Message as _;
use std::time::{Duration, Instant};

/// Longest wait for an event or an effect the test expects.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct EventTap {
    subscription: Subscription,
}

impl TestApp {
    fn events_settings(&self) -> crm_platform::config::EventsSettings {
        let settings =
            crm_platform::testing::settings::<crm_tickets::Tickets>(&self.storage, |_| {});
        crm_platform::app::ServiceSettings::platform(&settings)
            .events
            .clone()
    }

    /// A new group on this app's stream, reading what is published from now on.
    pub async fn tap_events(&mut self) -> EventTap {
        let events = self.events_settings();
        let bus = EventBus::from_settings(&events).expect("bus");
        let mut tap = EventTap {
            subscription: bus.subscribe(
                &stream_name(&events, "tickets"),
                &format!("test-{}", rid()),
                "tap",
            ),
        };
        // A new group starts at the stream's first entry: skip what is there already.
        self.published(&mut tap).await;
        tap
    }

    /// Every event published before this call, in order: a marker ticket is created and the
    /// events are read up to its TicketCreated (it committed after them, so it comes after).
    pub async fn published(&mut self, tap: &mut EventTap) -> Vec<ev::Event> {
        let marker = self
            .create(ticket(&new_customer(), pb::Category::Other))
            .await
            .name;
        let mut out = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            assert!(Instant::now() < deadline, "no marker event; got {out:#?}");
            for e in tap.read().await {
                if e.r#type == ev::types::TICKET_CREATED && e.subject == marker {
                    return out;
                }
                out.push(e);
            }
        }
    }

    /// Publishes `payload` about `subject` on the customers stream this app consumes, as the
    /// customers service would; returns its envelope (the id answers name it).
    pub async fn feed(&self, subject: &str, payload: ev::event::Payload) -> Envelope {
        let settings = self.events_settings();
        let customers =
            Events::new(&settings, "customers", self.service.db().clone()).expect("events");
        let envelope = customers.typed(subject, payload);
        self.redeliver(&envelope).await;
        envelope
    }

    /// Publishes `envelope` on the customers stream again (a duplicate delivery).
    pub async fn redeliver(&self, envelope: &Envelope) {
        let settings = self.events_settings();
        let bus = EventBus::from_settings(&settings).expect("bus");
        bus.publish(
            &stream_name(&settings, "customers"),
            std::slice::from_ref(envelope),
            settings.stream_max_len,
        )
        .await
        .expect("publish");
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
        ("tickets", "tickets")
    );
    assert_eq!(e.r#type, envelope.event_type);
    assert_eq!(e.subject, envelope.subject);
    assert_eq!(e.time, Some(to_timestamp(envelope.time)));
    assert_eq!(envelope.content_type, PROTOBUF);
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

/// Polls `check` until it holds (an effect of a consumed event), or fails after PATIENCE.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
