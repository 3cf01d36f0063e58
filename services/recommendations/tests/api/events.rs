//! Customers' and loyalty's events through the real consumers (groups
//! `recommendations.customers` and `recommendations.loyalty`; the in-process bus on SQLite,
//! Redis on PostgreSQL), published as those services publish them: activities recorded as
//! interactions once however often delivered, merges moving interactions and profiles,
//! erasures deleting them and answered by ErasureCompleted, profile and tier changes, and
//! the refresh job surviving a customers service that does not answer.
use crate::harness::*;
use crm_platform::testing::Backend;
use crm_platform::testing::events::{PATIENCE, Producer, Tap, eventually};
use crm_proto::customers::{ActivityKind, PurchaseItem};
use crm_proto::events::{self as ev, event::Payload};
use crm_proto::recommendations as pb;
use crm_recommendations::domain::{CustomerId, Interaction, InteractionKind, RecommendationId};
use crm_recommendations::store;
use std::time::Instant;

struct App {
    app: TestApp,
    customers: Producer,
    loyalty: Producer,
    /// Recommendations' own stream (its ErasureCompleted answers).
    answers: Tap,
}

async fn spawn(
    backend: Backend,
    configure: impl FnOnce(&mut crm_recommendations::Settings) + Clone,
) -> App {
    let storage = Storage::fresh(backend).await;
    let settings = crm_platform::testing::settings::<crm_recommendations::Recommendations>(
        &storage,
        configure.clone(),
    );
    let events = crm_platform::app::ServiceSettings::platform(&settings)
        .events
        .clone();
    let answers = Tap::new(&events, "recommendations");
    let spawned =
        crm_platform::testing::spawn::<crm_recommendations::Recommendations>(&storage, configure)
            .await;
    App {
        app: TestApp {
            client: pb::recommendation_service_client::RecommendationServiceClient::new(
                spawned.channel,
            ),
            service: spawned.service,
        },
        customers: Producer::new(&events, "customers"),
        loyalty: Producer::new(&events, "loyalty"),
        answers,
    }
}

fn new_customer() -> CustomerId {
    CustomerId::generate()
}

fn ts(days_ago: i64) -> prost_types::Timestamp {
    crm_platform::validate::to_timestamp(chrono::Utc::now() - chrono::TimeDelta::days(days_ago))
}

fn activity(c: CustomerId, kind: ActivityKind) -> ev::ActivityRecorded {
    ev::ActivityRecorded {
        activity: format!("{}/activities/{}", c.name(), uuid::Uuid::now_v7()),
        customer: c.name(),
        kind: kind as i32,
        occur_time: Some(ts(1)),
        channel: "web".into(),
        ..Default::default()
    }
}

fn order(c: CustomerId, kind: ActivityKind, order_id: &str, items: &[(&str, i32)]) -> Payload {
    Payload::ActivityRecorded(ev::ActivityRecorded {
        order: Some(ev::Order {
            order_id: order_id.into(),
            amount: Some(crm_proto::common::Money {
                currency_code: "CNY".into(),
                amount_minor: 10_000,
            }),
            items: items
                .iter()
                .map(|(id, quantity)| PurchaseItem {
                    item_id: (*id).into(),
                    quantity: *quantity,
                    unit_price: None,
                })
                .collect(),
        }),
        ..activity(c, kind)
    })
}

fn view(c: CustomerId, item: &str) -> Payload {
    Payload::ActivityRecorded(ev::ActivityRecorded {
        item_id: item.into(),
        ..activity(c, ActivityKind::View)
    })
}

fn review(c: CustomerId, item: &str, rating: i32) -> Payload {
    Payload::ActivityRecorded(ev::ActivityRecorded {
        item_id: item.into(),
        rating,
        ..activity(c, ActivityKind::Review)
    })
}

fn created(c: CustomerId) -> Payload {
    Payload::CustomerCreated(ev::CustomerCreated {
        customer: c.name(),
        create_time: Some(ts(0)),
        ..Default::default()
    })
}

fn updated(c: CustomerId, fields: &[&str]) -> Payload {
    Payload::CustomerUpdated(ev::CustomerUpdated {
        customer: c.name(),
        changed_fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        update_time: Some(ts(0)),
        ..Default::default()
    })
}

fn tier(c: CustomerId, from: &str, to: &str) -> Payload {
    Payload::TierChanged(ev::TierChanged {
        customer: c.name(),
        from_tier: from.into(),
        to_tier: to.into(),
        reason: ev::TierChangeReason::Earned as i32,
        change_time: Some(ts(0)),
        ..Default::default()
    })
}

fn merged(survivor: CustomerId, losers: &[CustomerId]) -> Payload {
    Payload::CustomerMerged(ev::CustomerMerged {
        survivor: survivor.name(),
        losers: losers.iter().map(CustomerId::name).collect(),
        actor: "agent".into(),
        merge_time: Some(ts(0)),
    })
}

fn erased(c: CustomerId, merged: &[CustomerId]) -> Payload {
    Payload::CustomerErased(ev::CustomerErased {
        customer: c.name(),
        merged_customers: merged.iter().map(CustomerId::name).collect(),
        erase_time: Some(ts(0)),
    })
}

impl App {
    async fn history(&self, c: CustomerId) -> Vec<Interaction> {
        store::interactions::history(self.app.service.db(), c, 1000)
            .await
            .expect("history")
    }

    async fn profile(
        &self,
        c: CustomerId,
    ) -> Option<crm_recommendations::domain::profile::Profile> {
        store::profiles::get(self.app.service.db(), c.0)
            .await
            .expect("profile")
    }

    async fn stale(&self) -> Vec<uuid::Uuid> {
        store::profiles::stale(self.app.service.db(), 1000)
            .await
            .expect("stale")
    }

    /// Publishes `payload` about `subject` as customers would, `times` times (a redelivery
    /// keeps the id); returns the envelope id.
    async fn send(&self, subject: CustomerId, payload: Payload, times: usize) -> uuid::Uuid {
        let e = self.customers.envelope(&subject.name(), payload);
        for _ in 0..times {
            self.customers.publish(std::slice::from_ref(&e)).await;
        }
        e.id
    }

    /// Waits until everything published on customers' stream so far is applied: one
    /// consumer reads the stream in order, so a marker view recorded means the events
    /// before it were too. Nothing may be failing or dead-lettered.
    async fn settled(&self) {
        let marker = new_customer();
        self.send(marker, view(marker, "marker"), 1).await;
        let db = self.app.service.db().clone();
        eventually("the marker view recorded", || {
            let db = db.clone();
            async move {
                !store::interactions::history(&db, marker, 1)
                    .await
                    .expect("history")
                    .is_empty()
            }
        })
        .await;
        for p in [&self.customers, &self.loyalty] {
            let group = format!("recommendations.{}", p.source());
            assert_eq!(p.pending(&group).await, 0, "an event of {group} is failing");
            assert!(
                p.dead_letters().await.is_empty(),
                "an event was dead-lettered"
            );
        }
    }

    /// The same for loyalty's stream (a marker customer's tier).
    async fn settled_loyalty(&self) {
        let marker = new_customer();
        let e = self
            .loyalty
            .envelope(&marker.name(), tier(marker, "regular", "marker"));
        self.loyalty.publish(std::slice::from_ref(&e)).await;
        let db = self.app.service.db().clone();
        eventually("the marker tier recorded", || {
            let db = db.clone();
            async move {
                store::profiles::get(&db, marker.0)
                    .await
                    .expect("profile")
                    .is_some_and(|p| p.tier == "marker")
            }
        })
        .await;
        self.settled().await;
    }

    async fn pending_interactions(&mut self) -> i64 {
        self.app
            .client
            .get_model(pb::GetModelRequest {
                name: "model".into(),
            })
            .await
            .expect("get model")
            .into_inner()
            .pending_interaction_count
    }

    /// The ErasureCompleted answers on recommendations' stream about `customer`, read until
    /// one arrives (then a little longer, to see a second).
    async fn erasure_answers(&mut self, customer: CustomerId) -> Vec<ev::ErasureCompleted> {
        let deadline = Instant::now() + PATIENCE;
        let mut got = Vec::new();
        let mut after_first = 0;
        while after_first < 5 {
            assert!(Instant::now() < deadline, "no ErasureCompleted");
            for e in self.answers.read().await {
                if let Some(Payload::ErasureCompleted(d)) = e.payload
                    && d.customer == customer.name()
                {
                    assert_eq!(e.subject, customer.name());
                    got.push(d);
                }
            }
            if !got.is_empty() {
                after_first += 1;
            }
        }
        got
    }
}

fn summary(i: &[Interaction]) -> Vec<(String, InteractionKind, f64, i32, i32, String)> {
    let mut s: Vec<_> = i
        .iter()
        .map(|i| {
            (
                i.item.0.clone(),
                i.kind,
                i.weight,
                i.rating,
                i.quantity,
                i.basket.clone(),
            )
        })
        .collect();
    s.sort_by(|a, b| (&a.0, a.1.code(), &a.5).cmp(&(&b.0, b.1.code(), &b.5)));
    s
}

#[tokio::test]
async fn activities_are_recorded_as_interactions_once() {
    each_backend(|backend| async move {
        let mut app = spawn(backend, |_| {}).await;
        let c = new_customer();
        // Delivered twice: recorded once.
        let bought = app
            .send(
                c,
                order(
                    c,
                    ActivityKind::Purchase,
                    "o-1",
                    &[("sku-a", 2), ("sku-b", 1)],
                ),
                2,
            )
            .await;
        app.send(c, view(c, "sku-c"), 1).await;
        app.send(c, review(c, "sku-a", 5), 1).await;
        // A booking without items names its room; without an order id, the activity is
        // the basket.
        let booking = ev::ActivityRecorded {
            item_id: "room-7".into(),
            ..activity(c, ActivityKind::Booking)
        };
        let booking_name = booking.activity.clone();
        app.send(c, Payload::ActivityRecorded(booking), 1).await;
        // Nothing: no item, an invalid item, an unrated review, a search, a malformed name.
        app.send(c, view(c, ""), 1).await;
        app.send(c, view(c, "bad item id!"), 1).await;
        app.send(c, review(c, "sku-a", 0), 1).await;
        app.send(
            c,
            Payload::ActivityRecorded(activity(c, ActivityKind::Search)),
            1,
        )
        .await;
        let nobody = ev::ActivityRecorded {
            customer: "people/1".into(),
            item_id: "sku-z".into(),
            ..activity(c, ActivityKind::View)
        };
        app.send(c, Payload::ActivityRecorded(nobody), 1).await;
        app.settled().await;

        let got = app.history(c).await;
        assert_eq!(
            summary(&got),
            [
                (
                    "room-7".into(),
                    InteractionKind::Booking,
                    4.0,
                    0,
                    1,
                    booking_name
                ),
                (
                    "sku-a".into(),
                    InteractionKind::Purchase,
                    4.0,
                    0,
                    2,
                    "o-1".into()
                ),
                (
                    "sku-a".into(),
                    InteractionKind::Review,
                    3.0,
                    5,
                    1,
                    String::new()
                ),
                (
                    "sku-b".into(),
                    InteractionKind::Purchase,
                    4.0,
                    0,
                    1,
                    "o-1".into()
                ),
                (
                    "sku-c".into(),
                    InteractionKind::View,
                    1.0,
                    0,
                    1,
                    String::new()
                ),
            ]
        );
        let mut keys: Vec<_> = got
            .iter()
            .filter(|i| i.kind == InteractionKind::Purchase)
            .map(|i| i.source_key.clone())
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [format!("event:{bought}:0"), format!("event:{bought}:1")]
        );
        // The five, and the marker's view.
        assert_eq!(app.pending_interactions().await, 6);

        // A replay after the inbox forgot the event (its retention passed): the interactions'
        // keys still record nothing twice.
        use crm_platform::events::inbox;
        use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
        let forgotten = inbox::Entity::delete_many()
            .filter(inbox::Column::Consumer.eq("recommendations.customers"))
            .exec(app.app.service.db())
            .await
            .expect("forget the inbox");
        assert!(forgotten.rows_affected >= 5);
        let again = app.customers.envelope(
            &c.name(),
            order(
                c,
                ActivityKind::Purchase,
                "o-1",
                &[("sku-a", 2), ("sku-b", 1)],
            ),
        );
        let replayed = crm_platform::events::Envelope {
            id: bought,
            ..again
        };
        app.customers.publish(&[replayed]).await;
        app.settled().await;
        assert_eq!(app.history(c).await.len(), 5);
        assert_eq!(
            app.pending_interactions().await,
            7,
            "only the second marker"
        );
    })
    .await;
}

#[tokio::test]
async fn a_merge_moves_interactions_and_the_profile_to_the_survivor() {
    each_backend(|backend| async move {
        let app = spawn(backend, |_| {}).await;
        let (survivor, loser, other) = (new_customer(), new_customer(), new_customer());
        app.send(survivor, view(survivor, "sku-s"), 1).await;
        app.send(
            loser,
            order(loser, ActivityKind::Purchase, "o-l", &[("sku-l", 1)]),
            1,
        )
        .await;
        app.send(other, view(other, "sku-o"), 1).await;
        app.send(survivor, created(survivor), 1).await;
        let e = app
            .loyalty
            .envelope(&loser.name(), tier(loser, "regular", "Gold"));
        app.loyalty.publish(std::slice::from_ref(&e)).await;
        app.settled_loyalty().await;
        assert_eq!(
            app.profile(loser).await.expect("loser profile").tier,
            "gold"
        );

        app.send(survivor, merged(survivor, &[loser]), 2).await;
        app.settled().await;
        assert!(
            app.history(loser).await.is_empty(),
            "the loser has nothing left"
        );
        let items: Vec<_> = summary(&app.history(survivor).await)
            .into_iter()
            .map(|s| s.0)
            .collect();
        assert_eq!(items, ["sku-l", "sku-s"]);
        assert_eq!(app.history(other).await.len(), 1, "others untouched");
        assert_eq!(app.profile(loser).await, None);
        let p = app.profile(survivor).await.expect("survivor profile");
        assert_eq!(p.tier, "gold", "the survivor takes the tier it lacked");
        assert!(app.stale().await.contains(&survivor.0), "fetched again");
    })
    .await;
}

#[tokio::test]
async fn an_erasure_deletes_everything_and_answers_once() {
    each_backend(|backend| async move {
        let mut app = spawn(backend, |_| {}).await;
        let (erased_one, twin, other) = (new_customer(), new_customer(), new_customer());
        app.send(erased_one, view(erased_one, "sku-1"), 1).await;
        app.send(
            erased_one,
            order(
                erased_one,
                ActivityKind::Purchase,
                "o-1",
                &[("sku-1", 1), ("sku-2", 1)],
            ),
            1,
        )
        .await;
        app.send(twin, view(twin, "sku-3"), 1).await;
        app.send(twin, created(twin), 1).await;
        app.send(erased_one, created(erased_one), 1).await;
        app.send(other, view(other, "sku-1"), 1).await;
        app.settled().await;

        // Delivered twice: applied and answered once.
        let id = app.send(erased_one, erased(erased_one, &[twin]), 2).await;
        let answers = app.erasure_answers(erased_one).await;
        assert_eq!(answers.len(), 1, "{answers:#?}");
        let done = &answers[0];
        assert_eq!(done.service, "recommendations");
        assert_eq!(done.erasure_event_id, id.to_string());
        assert!(done.complete_time.is_some());
        // Four interactions and two profiles.
        assert_eq!(done.scrubbed_records, 6);
        app.settled().await;
        for c in [erased_one, twin] {
            assert!(app.history(c).await.is_empty());
            assert_eq!(app.profile(c).await, None);
        }
        assert_eq!(app.history(other).await.len(), 1, "others untouched");

        // A second erasure event (customers retrying) finds nothing and answers with 0.
        let again = app.send(erased_one, erased(erased_one, &[]), 1).await;
        let answers = app.erasure_answers(erased_one).await;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].erasure_event_id, again.to_string());
        assert_eq!(answers[0].scrubbed_records, 0);
    })
    .await;
}

#[tokio::test]
async fn an_answer_still_queued_when_its_customer_is_erased_is_not_kept() {
    each_backend(|backend| async move {
        let mut app = spawn(backend, |s| {
            s.recommendations.serving.served_flush_ms = 10_000;
        })
        .await;
        let (c, other) = (new_customer(), new_customer());
        app.send(c, view(c, "sku-1"), 1).await;
        app.settled().await;
        let mut ids = Vec::new();
        for who in [c, other] {
            let r = app
                .app
                .client
                .recommend_for_customer(pb::RecommendForCustomerRequest {
                    customer: who.name(),
                    max_results: 5,
                    ..Default::default()
                })
                .await
                .expect("recommend")
                .into_inner();
            ids.push(RecommendationId::parse_name(&r.recommendation_id).expect("id"));
        }
        let db = app.app.service.db().clone();
        let stored = async |id| store::served::find(&db, id).await.expect("find").is_some();
        assert!(!stored(ids[0]).await, "still queued");
        app.send(c, erased(c, &[]), 1).await;
        app.erasure_answers(c).await;
        assert!(app.app.service.served_log().flush().await, "written");
        assert!(!stored(ids[0]).await, "dropped when written");
        assert!(stored(ids[1]).await, "others kept");
    })
    .await;
}

#[tokio::test]
async fn profile_changes_mark_the_profile_stale_and_tiers_are_kept() {
    each_backend(|backend| async move {
        let app = spawn(backend, |_| {}).await;
        let (c, d) = (new_customer(), new_customer());
        app.send(c, created(c), 2).await;
        app.settled().await;
        assert_eq!(app.stale().await, [c.0], "a created customer is fetched");
        assert_eq!(app.profile(c).await, Some(Default::default()));

        // As the refresh job leaves it: filled, not stale.
        let filled = crm_recommendations::domain::profile::Profile {
            language: "ja".into(),
            city: "kyoto".into(),
            tier: String::new(),
            tags: vec!["onsen".into()],
        };
        let now = crm_recommendations::domain::now();
        store::profiles::put(app.app.service.db(), c.0, &filled, false, now)
            .await
            .expect("put");
        // A change of a field cold start does not read: nothing to fetch.
        app.send(c, updated(c, &["phones"]), 1).await;
        app.settled().await;
        assert!(app.stale().await.is_empty());
        app.send(c, updated(c, &["phones", "tags"]), 1).await;
        app.settled().await;
        assert_eq!(app.stale().await, [c.0]);
        assert_eq!(
            app.profile(c).await,
            Some(filled.clone()),
            "kept until fetched"
        );

        // Tiers, in order; a customer recommendations did not know gets a profile to fill.
        for (from, to) in [("regular", "silver"), ("silver", "GOLD")] {
            let e = app.loyalty.envelope(&c.name(), tier(c, from, to));
            app.loyalty.publish(&[e.clone(), e]).await;
        }
        let e = app
            .loyalty
            .envelope(&d.name(), tier(d, "regular", "silver"));
        app.loyalty.publish(&[e]).await;
        app.settled_loyalty().await;
        let p = app.profile(c).await.expect("profile");
        assert_eq!((p.tier.as_str(), p.city.as_str()), ("gold", "kyoto"));
        assert_eq!(app.profile(d).await.expect("new").tier, "silver");
        assert!(app.stale().await.contains(&d.0));
    })
    .await;
}

#[tokio::test]
async fn a_refresh_against_a_customers_that_does_not_answer_keeps_profiles_stale() {
    each_backend(|backend| async move {
        // Nothing listens on port 9 here; the job itself is off, runs are called below.
        let app = spawn(backend, |s| {
            s.recommendations.clients.customers_url = "http://127.0.0.1:9".into();
            s.recommendations.clients.timeout_ms = 300;
            s.recommendations.profiles.refresh_interval_ms = 0;
            s.recommendations.profiles.page = 2;
        })
        .await;
        let (a, b, c) = (new_customer(), new_customer(), new_customer());
        for x in [a, b, c] {
            app.send(x, created(x), 1).await;
        }
        app.settled().await;
        let svc = &app.app.service;
        let first = svc
            .refresh_profiles()
            .await
            .expect("a run never fails on a customer");
        assert_eq!((first.taken, first.failed, first.filled), (2, 2, 0));
        // The failed ones went to the back: the next run takes the third first.
        let before = app.stale().await;
        assert_eq!(before.len(), 3, "all still stale");
        let second = svc.refresh_profiles().await.expect("second run");
        assert_eq!(second.taken, 2);
        let after = app.stale().await;
        assert_eq!(after.len(), 3);
        assert_eq!(after.first(), before.last(), "the one not retried is next");
    })
    .await;
}
