//! Reading what the app published on the customers stream (the platform's test [`Tap`]).
use crate::harness::*;
use crm_platform::testing::events::Tap;
pub use crm_platform::testing::events::kinds;
use crm_proto::events as ev;

pub type EventTap = Tap;

impl TestApp {
    fn events_settings(&self) -> crm_platform::config::EventsSettings {
        let settings =
            crm_platform::testing::settings::<crm_customers::Customers>(&self.storage, |_| {});
        crm_platform::app::ServiceSettings::platform(&settings)
            .events
            .clone()
    }

    /// A new group on this app's stream, reading what is published from now on.
    pub async fn tap_events(&mut self) -> EventTap {
        let mut tap = Tap::new(&self.events_settings(), "customers");
        // A new group starts at the stream's first entry: skip what is there already.
        self.published(&mut tap).await;
        tap
    }

    /// Every event published before this call, in order: a marker customer is created, and
    /// the events are read up to its `created`.
    pub async fn published(&mut self, tap: &mut EventTap) -> Vec<ev::Event> {
        let marker = self
            .create(person("Marker", "marker@example.com"))
            .await
            .name;
        tap.read_until(ev::types::CUSTOMER_CREATED, &marker).await
    }
}
