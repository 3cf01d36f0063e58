//! Loyalty as a consumer: purchases and refunds recorded in customers, goodwill owed by
//! tickets' surveys, fed to the app as those services publish them, and their effects read
//! back through the public RPCs only.
use crate::event_tap::{PATIENCE, Producer, group_on, kinds};
use crate::harness::*;
use chrono::{DateTime, TimeDelta, Utc};
use crm_proto::customers::ActivityKind;
use crm_proto::events::event::Payload;
use crm_proto::events::{self as ev, types};
use crm_proto::loyalty as pb;
use std::time::Instant;

fn days_ago(days: i64) -> DateTime<Utc> {
    Utc::now() - TimeDelta::days(days)
}

fn purchase(
    customer: &str,
    activity: &str,
    order_id: &str,
    amount: i64,
    at: DateTime<Utc>,
) -> Payload {
    Payload::ActivityRecorded(ev::ActivityRecorded {
        activity: format!("{customer}/activities/{activity}"),
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

fn refund(customer: &str, order_id: &str, amount: Option<i64>) -> Payload {
    Payload::RefundRecorded(ev::RefundRecorded {
        activity: format!("{customer}/activities/{}", uuid::Uuid::now_v7()),
        customer: customer.into(),
        occur_time: Some(ts(Utc::now())),
        channel: "store".into(),
        order: Some(ev::Order {
            order_id: order_id.into(),
            amount: amount.map(|a| money("CNY", a)),
            items: Vec::new(),
        }),
    })
}

fn satisfaction(customer: &str, ticket: &str, goodwill_points: i64) -> Payload {
    Payload::SatisfactionSubmitted(ev::SatisfactionSubmitted {
        ticket: ticket.into(),
        customer: customer.into(),
        survey_token: "t-1".into(),
        overall: 1,
        goodwill_points,
        submit_time: Some(ts(Utc::now())),
        ..Default::default()
    })
}

impl TestApp {
    async fn transactions(&mut self, customer: &str) -> Vec<pb::Transaction> {
        self.client
            .list_transactions(pb::ListTransactionsRequest {
                customer: customer.into(),
                page_size: 100,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner()
            .transactions
    }

    /// Waits until `customer` has earned `points` in all: the consumer reached that event.
    async fn until_earned(&mut self, customer: &str, points: i64) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let earned = self.balance(customer).await.lifetime_earned;
            if earned == points {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{customer} earned {earned}, not {points}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// A marker earn fed last: once it shows, the consumer (one per group, in stream order)
/// has handled everything fed before; none of it may be failing (pending) or given up on.
async fn drained(
    app: &mut TestApp,
    producer: &Producer,
    marker: Payload,
    customer: &str,
    points: i64,
) {
    producer.send(customer, marker).await;
    app.until_earned(customer, points).await;
    let group = group_on(producer.source());
    assert_eq!(producer.pending(&group).await, 0, "an event is failing");
    assert_eq!(
        producer.dead_letters().await.len(),
        0,
        "an event was dead-lettered"
    );
}

#[tokio::test]
async fn a_purchase_earns_once_as_of_its_time_at_its_tier() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let customers = app.producer("customers").await;
        let (c, old, rpc) = (new_customer(), new_customer(), new_customer());
        // 1000 points 300 days ago: silver from then on.
        customers
            .send(&c, purchase(&c, "a1", "o-1", 100_000, days_ago(300)))
            .await;
        // 100 base points 200 days ago, at silver: x1.25. Delivered twice: earned once.
        let twice = customers.envelope(&c, purchase(&c, "a2", "o-2", 10_000, days_ago(200)));
        customers.publish(&[twice.clone(), twice]).await;
        // Without an order id, keyed by the activity: a second event of it earns nothing.
        for _ in 0..2 {
            customers
                .send(&c, purchase(&c, "a3", "", 1_000, days_ago(100)))
                .await;
        }
        // Beyond max_backdate_days (400): deliberately nothing.
        customers
            .send(&c, purchase(&c, "a4", "o-4", 500_000, days_ago(500)))
            .await;
        // Not a purchase: nothing.
        let view = Payload::ActivityRecorded(ev::ActivityRecorded {
            activity: format!("{c}/activities/a5"),
            customer: c.clone(),
            kind: ActivityKind::View as i32,
            item_id: "spa".into(),
            occur_time: Some(ts(Utc::now())),
            ..Default::default()
        });
        customers.send(&c, view).await;
        // 380 days ago: earned, but outside this year's qualifying window.
        customers
            .send(&old, purchase(&old, "b1", "o-9", 100_000, days_ago(380)))
            .await;
        // Earned through the RPC first: the event earns nothing more.
        app.purchase(&rpc, "o-rpc", 100_000).await;
        customers
            .send(&rpc, purchase(&rpc, "r1", "o-rpc", 100_000, days_ago(1)))
            .await;
        let marker = new_customer();
        drained(
            &mut app,
            &customers,
            purchase(&marker, "m", "o-m", 100, Utc::now()),
            &marker,
            1,
        )
        .await;

        // 1000 + 125 + 12 (10 base at silver).
        let b = app.balance(&c).await;
        assert_eq!((b.lifetime_earned, b.available), (1137, 1137));
        assert_eq!(b.tier.expect("tier").tier, "silver");
        let mut earns: Vec<(String, i64)> = app
            .transactions(&c)
            .await
            .into_iter()
            .map(|t| (t.order_id, t.wallet_delta))
            .collect();
        earns.sort();
        let activity = format!("{c}/activities/a3");
        assert_eq!(
            earns,
            [(activity, 12), ("o-1".into(), 1000), ("o-2".into(), 125)]
        );
        let o = app.balance(&old).await;
        assert_eq!(o.available, 1000);
        let tier = o.tier.expect("tier");
        assert_eq!((tier.tier.as_str(), tier.qualifying_points), ("regular", 0));
        assert_eq!(app.balance(&rpc).await.lifetime_earned, 1000);
        assert_eq!(app.transactions(&rpc).await.len(), 1);
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn a_refund_reverses_its_order_proportionally_once() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let customers = app.producer("customers").await;
        let (c, d) = (new_customer(), new_customer());
        customers
            .send(&c, purchase(&c, "a1", "o-1", 100_000, days_ago(10)))
            .await;
        customers
            .send(&c, purchase(&c, "a2", "o-2", 10_000, days_ago(5)))
            .await;
        customers
            .send(&d, purchase(&d, "b1", "o-d", 10_000, days_ago(5)))
            .await;
        app.until_earned(&c, 1125).await;
        assert_eq!(app.tier(&c).await.tier, "silver");
        let mut tap = app.tap_events().await;
        // Half of o-1, delivered twice: 500 points back once; 625 qualifying: regular.
        let half = customers.envelope(&c, refund(&c, "o-1", Some(50_000)));
        customers.publish(&[half.clone(), half]).await;
        // o-2 without an amount: all of it.
        customers.send(&c, refund(&c, "o-2", None)).await;
        // An order loyalty never saw, and one another customer earned: nothing, no retries.
        customers.send(&c, refund(&c, "o-404", Some(100))).await;
        customers.send(&c, refund(&c, "o-d", Some(100))).await;
        let marker = new_customer();
        drained(
            &mut app,
            &customers,
            purchase(&marker, "m", "o-m", 100, Utc::now()),
            &marker,
            1,
        )
        .await;

        let b = app.balance(&c).await;
        assert_eq!(b.available, 500);
        let tier = b.tier.expect("tier");
        assert_eq!(
            (tier.tier.as_str(), tier.qualifying_points),
            ("regular", 500)
        );
        let mut reversals: Vec<(String, i64)> = app
            .transactions(&c)
            .await
            .into_iter()
            .filter(|t| t.kind() == pb::TransactionKind::Reverse)
            .map(|t| (t.order_id, t.wallet_delta))
            .collect();
        reversals.sort();
        assert_eq!(reversals, [("o-1".into(), -500), ("o-2".into(), -125)]);
        assert_eq!(app.balance(&d).await.available, 100);
        // What loyalty published about it: the reversals, and the tier lowered by the first.
        let got = app.published(&mut tap).await;
        let about_c: Vec<_> = kinds(&got).into_iter().filter(|(_, s)| *s == c).collect();
        assert_eq!(
            about_c,
            [
                (types::POINTS_REVERSED, c.as_str()),
                (types::TIER_CHANGED, c.as_str()),
                (types::POINTS_REVERSED, c.as_str()),
            ],
            "{got:#?}"
        );
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn goodwill_owed_by_a_survey_is_earned_once() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let tickets = app.producer("tickets").await;
        let mut tap = app.tap_events().await;
        let c = new_customer();
        let ticket = format!("tickets/{}", uuid::Uuid::now_v7());
        let owed = tickets.envelope(&ticket, satisfaction(&c, &ticket, 40));
        tickets.publish(&[owed.clone(), owed]).await;
        // A good score owes nothing.
        tickets.send(&ticket, satisfaction(&c, &ticket, 0)).await;
        let marker = new_customer();
        let ticket_m = format!("tickets/{}", uuid::Uuid::now_v7());
        drained(
            &mut app,
            &tickets,
            satisfaction(&marker, &ticket_m, 1),
            &marker,
            1,
        )
        .await;

        // A customer loyalty did not know: a wallet, the points available at once.
        let b = app.balance(&c).await;
        assert_eq!((b.available, b.lifetime_earned), (40, 40));
        let tier = b.tier.expect("tier");
        assert_eq!(tier.qualifying_points, 0, "goodwill does not qualify");
        let t = app.transactions(&c).await;
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].reason, format!("low satisfaction score on {ticket}"));
        assert_eq!(t[0].actor, "tickets");
        let got = app.published(&mut tap).await;
        let earned: Vec<(String, ev::EarnSource, String)> = got
            .iter()
            .filter_map(|e| match e.payload.as_ref() {
                Some(Payload::PointsEarned(p)) if p.customer == c => {
                    Some((p.customer.clone(), p.source(), p.reason.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            earned,
            [(c.clone(), ev::EarnSource::Goodwill, "low_csat".into())]
        );
        app.assert_consistent().await;
    })
    .await;
}
