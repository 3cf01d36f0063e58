//! The test's end of the event backbone (the platform's test [`Tap`] and [`Producer`]):
//! reading what loyalty published, and feeding loyalty events as the customers and tickets
//! services publish them.
use crate::harness::*;
use crm_platform::testing::events::Tap;
pub use crm_platform::testing::events::{PATIENCE, Producer, kinds};
use crm_proto::events::{self as ev, types};
use crm_proto::loyalty as pb;

pub type EventTap = Tap;

fn events_settings(app: &TestApp) -> crm_platform::config::EventsSettings {
    let settings = crm_platform::testing::settings::<crm_loyalty::Loyalty>(&app.storage, |_| {});
    crm_platform::app::ServiceSettings::platform(&settings)
        .events
        .clone()
}

impl TestApp {
    /// A new group on loyalty's stream, reading what is published from now on.
    pub async fn tap_events(&mut self) -> EventTap {
        let mut tap = Tap::new(&events_settings(self), "loyalty");
        // A new group starts at the stream's first entry: skip what is there already.
        self.published(&mut tap).await;
        tap
    }

    /// Every event published before this call, in order: a marker customer earns a review,
    /// and the events are read up to its PointsEarned.
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
        tap.read_until(types::POINTS_EARNED, &marker).await
    }

    /// A producer of `source`'s events on this app's bus, as that service would publish them.
    pub async fn producer(&self, source: &'static str) -> Producer {
        Producer::new(&events_settings(self), source)
    }
}

/// Loyalty's consumer group on `source`'s stream.
pub fn group_on(source: &str) -> String {
    format!("loyalty.{source}")
}
