//! The backbone from a test's side (the platform's test [`Tap`] and [`Producer`]): reading
//! what the app published on the tickets stream and feeding customers' events into the
//! customers stream the app consumes.
use crate::harness::*;
use crm_platform::events::Envelope;
pub use crm_platform::testing::events::{PATIENCE, eventually, kinds};
use crm_platform::testing::events::{Producer, Tap};
use crm_proto::events as ev;
use crm_proto::tickets as pb;

pub type EventTap = Tap;

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
        let mut tap = Tap::new(&self.events_settings(), "tickets");
        // A new group starts at the stream's first entry: skip what is there already.
        self.published(&mut tap).await;
        tap
    }

    /// Every event published before this call, in order: a marker ticket is created and the
    /// events are read up to its TicketCreated.
    pub async fn published(&mut self, tap: &mut EventTap) -> Vec<ev::Event> {
        let marker = self
            .create(ticket(&new_customer(), pb::Category::Other))
            .await
            .name;
        tap.read_until(ev::types::TICKET_CREATED, &marker).await
    }

    fn customers(&self) -> Producer {
        Producer::new(&self.events_settings(), "customers")
    }

    /// Publishes `payload` about `subject` on the customers stream this app consumes, as the
    /// customers service would; returns its envelope (the id answers name it).
    pub async fn feed(&self, subject: &str, payload: ev::event::Payload) -> Envelope {
        self.customers().send(subject, payload).await
    }

    /// Publishes `envelope` on the customers stream again (a duplicate delivery).
    pub async fn redeliver(&self, envelope: &Envelope) {
        self.customers()
            .publish(std::slice::from_ref(envelope))
            .await;
    }
}
