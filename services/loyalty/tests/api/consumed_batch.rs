//! Loyalty's consumer handler driven directly, as the platform consumer drives it: the
//! purchases of one read applied together give what they give one by one, and the commit
//! hook drops wallets a read cached while the consumer's transaction was still open.
use crate::harness::*;
use crate::merge::{merge, writing};
use chrono::{DateTime, TimeDelta, Utc};
use crm_loyalty::events::consume::{Consume, CustomerFacts};
use crm_platform::events::{Envelope, Handler};
use crm_platform::testing::Backend;
use crm_platform::testing::events::Producer;
use crm_proto::customers::ActivityKind;
use crm_proto::events::{self as ev, event::Payload};
use crm_proto::loyalty as pb;

fn purchase(customer: &str, order_id: &str, amount: i64, at: DateTime<Utc>) -> Payload {
    Payload::ActivityRecorded(ev::ActivityRecorded {
        activity: format!("{customer}/activities/{}", uuid::Uuid::now_v7()),
        customer: customer.into(),
        kind: ActivityKind::Purchase as i32,
        occur_time: Some(ts(at)),
        channel: "web".into(),
        order: Some(ev::Order {
            order_id: order_id.into(),
            amount: Some(money("CNY", amount)),
            items: Vec::new(),
        }),
        ..Default::default()
    })
}

/// One customer's part of the scenario: a hot wallet with back-dated purchases that re-rate
/// later ones and an order sent twice, cold wallets with one purchase each, and a purchase of
/// a merged customer (lands on its survivor).
struct Cast {
    hot: String,
    cold: Vec<String>,
    survivor: String,
    loser: String,
}

impl Cast {
    async fn new(app: &TestApp) -> Self {
        let cast = Self {
            hot: new_customer(),
            cold: (0..8).map(|_| new_customer()).collect(),
            survivor: new_customer(),
            loser: new_customer(),
        };
        merge(app, &cast.survivor, &[&cast.loser]).await;
        cast
    }

    /// The events, in the consumer's order (by subject, each subject's in stream order).
    fn events(&self, producer: &Producer, base: DateTime<Utc>) -> Vec<Envelope> {
        let days = |d: i64| base - TimeDelta::days(d);
        let h = &self.hot;
        let mut out = vec![
            producer.envelope(h, purchase(h, "o-10", 10_000, days(10))),
            // 1000 points before o-10: silver, so o-10 is re-rated.
            producer.envelope(h, purchase(h, "o-300", 100_000, days(300))),
            producer.envelope(h, purchase(h, "o-200", 30_000, days(200))),
            producer.envelope(h, purchase(h, "o-10", 10_000, days(10))),
            producer.envelope(h, purchase(h, "o-5", 2_000, days(5))),
            producer.envelope(&self.loser, purchase(&self.loser, "o-l", 5_000, days(3))),
        ];
        for (i, c) in self.cold.iter().enumerate() {
            let at = days(i as i64 + 1);
            out.push(producer.envelope(
                c,
                purchase(c, &format!("o-{i}"), 1_000 + i as i64 * 100, at),
            ));
        }
        out.sort_by(|a, b| a.subject.cmp(&b.subject));
        out
    }

    fn wallets(&self) -> Vec<&String> {
        let mut all = vec![&self.hot, &self.survivor, &self.loser];
        all.extend(&self.cold);
        all
    }
}

/// What two wallets with the same history share: balance, tier and each transaction's
/// kind, amounts and order (not names, ids or times).
async fn outcome(app: &mut TestApp, customer: &str) -> (pb::Balance, i64, String, Vec<String>) {
    let balance = pb::Balance {
        customer: String::new(),
        read_time: None,
        ..app.balance(customer).await
    };
    let tier = app.tier(customer).await;
    let txs = app
        .client
        .list_transactions(pb::ListTransactionsRequest {
            customer: customer.into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .transactions
        .into_iter()
        .map(|t| {
            let points: Vec<i64> = t.postings.iter().map(|p| p.amount).collect();
            format!(
                "{} {} {:?} {} {}",
                t.kind, t.wallet_delta, points, t.order_id, t.shortfall_points
            )
        })
        .collect();
    (balance, tier.qualifying_points, tier.tier, txs)
}

#[tokio::test]
async fn purchases_applied_as_one_batch_earn_as_one_by_one() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let producer = app.producer("customers").await;
        let facts = Consume(CustomerFacts(app.service.clone()));
        let db = sea_orm::Database::connect(app.db_url.as_str())
            .await
            .expect("db");
        let base = Utc::now() - TimeDelta::hours(1);
        let (alone, together) = (Cast::new(&app).await, Cast::new(&app).await);
        for e in alone.events(&producer, base) {
            let txn = writing(&db).await;
            facts.handle(&txn, &e).await.expect("handle");
            txn.commit().await.expect("commit");
            facts.committed(&[&e]).await;
        }
        let events = together.events(&producer, base);
        let refs: Vec<&Envelope> = events.iter().collect();
        let txn = writing(&db).await;
        facts.handle_batch(&txn, &refs).await.expect("handle batch");
        txn.commit().await.expect("commit");
        facts.committed(&refs).await;
        for (a, b) in alone.wallets().into_iter().zip(together.wallets()) {
            let one_by_one = outcome(&mut app, a).await;
            assert_eq!(outcome(&mut app, b).await, one_by_one, "{a} vs {b}");
        }
        let hot = outcome(&mut app, &together.hot).await;
        assert_eq!(
            hot.3.len(),
            5,
            "4 earns (o-10 once) and a re-rate: {:?}",
            hot.3
        );
        assert!(
            outcome(&mut app, &together.survivor)
                .await
                .0
                .lifetime_earned
                > 0,
            "the loser's purchase landed on the survivor"
        );
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn a_wallet_read_before_the_consumer_commits_is_not_served_after() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let producer = app.producer("customers").await;
        let facts = Consume(CustomerFacts(app.service.clone()));
        let db = sea_orm::Database::connect(app.db_url.as_str())
            .await
            .expect("db");
        let (one, many) = (new_customer(), new_customer());
        let at = Utc::now() - TimeDelta::hours(1);
        let single = producer.envelope(&one, purchase(&one, "o-1", 10_000, at));
        let batch: Vec<Envelope> = (0..3)
            .map(|i| producer.envelope(&many, purchase(&many, &format!("o-{i}"), 10_000, at)))
            .collect();
        for (events, customer) in [(vec![single], &one), (batch, &many)] {
            let refs: Vec<&Envelope> = events.iter().collect();
            let txn = writing(&db).await;
            if let [e] = refs.as_slice() {
                facts.handle(&txn, e).await.expect("handle");
            } else {
                facts.handle_batch(&txn, &refs).await.expect("handle batch");
            }
            // A read while the consumer's transaction is open caches the state before it.
            // (Not on SQLite: there the app's one connection is the consumer's, so reads wait
            // for its commit, and a job of the app waiting for the write lock holds it.)
            if matches!(backend, Backend::Postgres) {
                assert_eq!(app.balance(customer).await.lifetime_earned, 0);
            }
            txn.commit().await.expect("commit");
            facts.committed(&refs).await;
            let earned = app.balance(customer).await.lifetime_earned;
            assert_eq!(
                earned,
                100 * refs.len() as i64,
                "{customer}: no stale wallet"
            );
        }
    })
    .await;
}
