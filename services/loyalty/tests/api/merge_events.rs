//! CustomerMerged and CustomerErased through the real consumer (group `loyalty.customers`
//! on the customers stream, the in-process bus on SQLite, Redis on PostgreSQL): delivered
//! twice, applied once, and loyalty publishes TierChanged (MERGED) and ErasureCompleted.
use crate::event_tap::{PATIENCE, Producer};
use crate::harness::*;
use crate::merge::goodwill;
use crm_loyalty::domain::CustomerId;
use crm_platform::testing::events::Tap;
use crm_proto::events as ev;
use ev::event::Payload;
use std::time::{Duration, Instant};

struct Backbone {
    customers: Producer,
    loyalty: Tap,
}

impl Backbone {
    async fn of(app: &TestApp) -> Self {
        let customers = app.producer("customers").await;
        let s = crm_platform::testing::settings::<crm_loyalty::Loyalty>(&app.storage, |_| {});
        let settings = &crm_platform::app::ServiceSettings::platform(&s).events;
        Self {
            customers,
            loyalty: Tap::new(settings, "loyalty"),
        }
    }

    /// Publishes `payload` as customers would, `times` times (a redelivery keeps the id).
    async fn publish(&self, subject: &str, payload: Payload, times: usize) -> String {
        let envelope = self.customers.envelope(subject, payload);
        for _ in 0..times {
            self.customers
                .publish(std::slice::from_ref(&envelope))
                .await;
        }
        envelope.id.to_string()
    }

    /// Reads loyalty's stream until `found` picks an event out.
    async fn expect<T>(&mut self, found: impl Fn(&Payload) -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            for e in self.loyalty.read().await {
                if let Some(t) = e.payload.as_ref().and_then(&found) {
                    return t;
                }
            }
        }
        panic!("loyalty published no such event");
    }
}

async fn eventually(app: &mut TestApp, customer: &str, available: i64) {
    let deadline = Instant::now() + PATIENCE;
    while app.balance(customer).await.available != available {
        assert!(
            Instant::now() < deadline,
            "{customer} never reached {available}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn merges_and_erasures_arrive_through_the_consumer_once() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let mut bus = Backbone::of(&app).await;
        let (s, l) = (new_customer(), new_customer());
        app.purchase(&s, "s-1", 70_000).await;
        app.purchase(&l, "l-1", 40_000).await;
        let mut gift = goodwill(&l, 25, None, None);
        if let Some(crm_proto::loyalty::earn_request::Source::Goodwill(g)) = &mut gift.source {
            g.reason = "apology to Jane Doe".into();
        }
        app.client.earn(gift).await.expect("goodwill");
        let merged = ev::CustomerMerged {
            survivor: s.clone(),
            losers: vec![l.clone()],
            actor: "dpo".into(),
            merge_time: Some(ts(chrono::Utc::now())),
        };
        bus.publish(&s, Payload::CustomerMerged(merged), 2).await;
        eventually(&mut app, &s, 700 + 400 + 25).await;
        let tier = bus
            .expect(|p| match p {
                Payload::TierChanged(t) if t.customer == s => Some(t.clone()),
                _ => None,
            })
            .await;
        assert_eq!(tier.reason, ev::TierChangeReason::Merged as i32);
        assert_eq!(
            (tier.from_tier.as_str(), tier.to_tier.as_str()),
            ("regular", "silver")
        );
        // A purchase of the loser delivered after the merge lands on the survivor.
        let late = ev::ActivityRecorded {
            activity: format!("{l}/activities/{}", uuid::Uuid::now_v7()),
            customer: l.clone(),
            kind: crm_proto::customers::ActivityKind::Purchase as i32,
            occur_time: Some(ts(chrono::Utc::now())),
            order: Some(ev::Order {
                order_id: "l-2".into(),
                amount: Some(money("CNY", 1_000)),
                items: vec![],
            }),
            ..Default::default()
        };
        bus.publish(&l, Payload::ActivityRecorded(late), 1).await;
        // 10 points at the survivor's new tier (silver, x1.25).
        let total = 700 + 400 + 25 + 12;
        eventually(&mut app, &s, total).await;
        let v = app.assert_consistent().await;

        let erased = ev::CustomerErased {
            customer: s.clone(),
            merged_customers: vec![l.clone()],
            erase_time: Some(ts(chrono::Utc::now())),
        };
        let erasure_id = bus.publish(&s, Payload::CustomerErased(erased), 2).await;
        let done = bus
            .expect(|p| match p {
                Payload::ErasureCompleted(e) if e.customer == s => Some(e.clone()),
                _ => None,
            })
            .await;
        assert_eq!(
            (done.service.as_str(), done.erasure_event_id.as_str()),
            ("loyalty", erasure_id.as_str())
        );
        assert!(done.scrubbed_records >= 1, "{done:?}");
        let db = sea_orm::Database::connect(app.db_url.as_str())
            .await
            .expect("db");
        use sea_orm::ConnectionTrait;
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM loyalty_transactions WHERE reason LIKE '%Jane%'",
            ))
            .await
            .expect("count")
            .expect("row");
        assert_eq!(row.try_get::<i64>("", "n").expect("n"), 0);
        assert_eq!(
            app.assert_consistent().await,
            v,
            "amounts and chains unchanged"
        );
        assert_eq!(app.balance(&l).await.available, total);
    })
    .await;
}

#[tokio::test]
async fn earns_racing_a_merge_all_end_on_the_survivor() {
    for (backend, group_commit) in backends_with_and_without_group_commit() {
        eprintln!("-- backend {backend:?}, group commit {group_commit}");
        let mut app = spawn_app_with(backend, |s| s.loyalty.group_commit = group_commit).await;
        let bus = Backbone::of(&app).await;
        let (s, l) = (new_customer(), new_customer());
        let mut client = app.client.clone();
        client.earn(goodwill(&s, 100, None, None)).await.expect("s");
        client.earn(goodwill(&l, 50, None, None)).await.expect("l");
        const RACERS: i64 = 24;
        let earns = (0..RACERS).map(|_| {
            let mut c = app.client.clone();
            let req = goodwill(&l, 1, None, None);
            async move { c.earn(req).await.expect("every earn lands somewhere") }
        });
        let merged = Payload::CustomerMerged(ev::CustomerMerged {
            survivor: s.clone(),
            losers: vec![l.clone()],
            ..Default::default()
        });
        tokio::join!(futures::future::join_all(earns), bus.publish(&s, merged, 1));
        eventually(&mut app, &s, 100 + 50 + RACERS).await;
        let loser = CustomerId::parse_name(&l).expect("name");
        let closed = app
            .service
            .stored_wallet(loser)
            .await
            .expect("wallet")
            .expect("row");
        assert_eq!(
            closed.balance, 0,
            "nothing landed on the loser after its move"
        );
        app.assert_consistent().await;
    }
}
