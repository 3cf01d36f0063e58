//! Purchases earned as of their purchase time: a year of past orders loaded in any order
//! gives the tier and balance the customer has today; too old or future ones are refused.
use crate::harness::*;
use chrono::{DateTime, TimeDelta, Utc};
use crm_proto::loyalty as pb;
use futures::future::join_all;
use tonic::Code;

/// (days before `now`, amount in fen): 300 points a month for a year, and one more 390
/// days ago (before today's tier window, inside the back-dating limit).
fn a_year_of_orders() -> Vec<(i64, i64)> {
    let mut orders = vec![(390, 30_000)];
    orders.extend((0..12).map(|k| (330 - 30 * k, 30_000)));
    orders
}

fn request(c: &str, now: DateTime<Utc>, (days_ago, amount): (i64, i64)) -> pb::EarnRequest {
    let at = now - TimeDelta::days(days_ago);
    purchase_at(c, &format!("order-{days_ago}"), amount, Some(at))
}

/// (available, pending, lifetime earned, tier, today's qualifying points)
async fn summary(app: &mut TestApp, c: &str) -> (i64, i64, i64, String, i64) {
    let b = app.balance(c).await;
    let tier = b.tier.expect("tier");
    (
        b.available,
        b.pending,
        b.lifetime_earned,
        tier.tier,
        tier.qualifying_points,
    )
}

#[tokio::test]
async fn a_year_of_past_orders_in_any_order_gives_todays_tier_and_balance() {
    for (backend, group_commit) in backends_with_and_without_group_commit() {
        eprintln!("-- backend {backend:?}, group commit {group_commit}");
        let mut app = spawn_app_with(backend, |s| s.loyalty.group_commit = group_commit).await;
        let now = Utc::now();
        let in_order = a_year_of_orders();
        let newest_first: Vec<_> = in_order.iter().rev().copied().collect();
        let interleaved: Vec<_> = in_order
            .iter()
            .skip(1)
            .step_by(2)
            .chain(in_order.iter().step_by(2))
            .copied()
            .collect();
        // By hand: silver (1,000) is reached after 4 x 300, so the other 9 earn x1.25 = 375;
        // today's window leaves out the order 390 days ago.
        let total = 4 * 300 + 9 * 375;
        let want = (total, 0, total, "silver".to_owned(), total - 300);
        for (case, orders) in [
            ("in order", &in_order),
            ("newest first", &newest_first),
            ("interleaved", &interleaved),
        ] {
            let c = new_customer();
            for &o in orders.iter() {
                app.client.earn(request(&c, now, o)).await.expect(case);
            }
            assert_eq!(summary(&mut app, &c).await, want, "{case}");
            assert_eq!(app.tier(&c).await.multiplier_permille, 1250, "{case}");
        }
        // All at once, newest first: arrival order (and group-commit batches, where a
        // back-dated call re-rates later orders written earlier in the same batch) as they come.
        let c = new_customer();
        let calls = newest_first.iter().map(|&o| {
            let mut client = app.client.clone();
            let req = request(&c, now, o);
            async move { client.earn(req).await.map(|_| ()) }
        });
        for r in join_all(calls).await {
            r.expect("concurrent earn");
        }
        assert_eq!(summary(&mut app, &c).await, want, "concurrent");
        app.assert_consistent().await;
    }
}

#[tokio::test]
async fn purchases_too_old_or_in_the_future_are_refused() {
    each_backend(|backend| async move {
        let mut app = spawn_app_with(backend, |s| s.loyalty.program.pending_days = 14).await;
        let c = new_customer();
        let now = Utc::now();
        let in_1997 = DateTime::parse_from_rfc3339("1997-03-14T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        for at in [
            in_1997,
            now - TimeDelta::days(401),
            now + TimeDelta::hours(1),
        ] {
            let err = app
                .client
                .earn(purchase_at(&c, "order-x", 30_000, Some(at)))
                .await
                .expect_err("refused");
            assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
            assert_eq!(violations(&err), ["purchase.purchase_time"], "{at}");
        }
        assert_eq!(summary(&mut app, &c).await.2, 0, "nothing earned");
        // Within the limit; pending 14 days from the purchase time, not from now.
        for (order, days_ago) in [("order-10", 10), ("order-20", 20)] {
            let at = now - TimeDelta::days(days_ago);
            app.client
                .earn(purchase_at(&c, order, 30_000, Some(at)))
                .await
                .expect("earned");
        }
        let (available, pending, ..) = summary(&mut app, &c).await;
        assert_eq!((available, pending), (300, 300));
        app.assert_consistent().await;
    })
    .await;
}
