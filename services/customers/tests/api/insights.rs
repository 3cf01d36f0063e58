//! Insights against hand computations on realistic purchase histories, and never a panic
//! on whatever amounts are stored.
use crate::harness::*;
use chrono::{DateTime, Duration, DurationRound, Utc};
use crm_proto::customers as pb;

/// Purchases at `base - days` for each `(days, fen)`, recorded oldest first; `base` is the
/// start of the test (whole seconds), so the gaps between purchases are exact days.
async fn history(app: &mut TestApp, customer: &str, base: DateTime<Utc>, items: &[(i64, i64)]) {
    let mut items = items.to_vec();
    items.sort_by_key(|(d, _)| -d);
    for (days, fen) in items {
        let t = base - Duration::days(days);
        app.client
            .record_activity(pb::RecordActivityRequest {
                parent: customer.into(),
                activity: Some(pb::Activity {
                    kind: pb::ActivityKind::Purchase as i32,
                    occur_time: Some(prost_types::Timestamp {
                        seconds: t.timestamp(),
                        nanos: 0,
                    }),
                    amount: Some(crm_proto::common::Money {
                        currency_code: "CNY".into(),
                        amount_minor: fen,
                    }),
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect("record purchase");
    }
}

fn base() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::seconds(1))
        .expect("whole seconds")
}

#[tokio::test]
async fn insights_match_hand_computations() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let base = base();

        // A hotel guest: stays 12, 40, 75, 140, 200 and 380 days ago.
        let guest = app.create(person("Guest", "guest@example.com")).await;
        let stays = [
            (12, 86_000),
            (40, 120_000),
            (75, 64_050),
            (140, 98_000),
            (200, 110_000),
            (380, 72_000),
        ];
        history(&mut app, &guest.name, base, &stays).await;
        let i = app.insights(&guest.name).await;
        // R: 12 days <= 30 -> 5. F: 5 stays in the last 365 days (>= 5) -> 4.
        // M: 86,000 + 120,000 + 64,050 + 98,000 + 110,000 = 478,050 fen (>= 100,000) -> 4.
        assert_eq!(
            (i.recency_score, i.frequency_score, i.monetary_score),
            (5, 4, 4)
        );
        assert_eq!(i.segment, "champions");
        assert_eq!(i.order_count, 6);
        // 478,050 + 72,000 = 550,050 fen; / 6 = 91,675.
        assert_eq!(i.total_spend[0].amount_minor, 550_050);
        assert_eq!(
            i.average_order_value.as_ref().map(|m| m.amount_minor),
            Some(91_675)
        );
        assert_eq!(i.days_since_last_purchase, 12);
        // Gaps 28, 35, 65, 60, 180: median 60; 12 days is within it.
        assert_eq!(i.churn_risk, 0.0);
        assert_eq!(i.churn_risk_reasons, ["buying at the usual rhythm"]);

        // A first-time buyer of 5,000.00 CNY ten days ago: F = 1, M = 5. Not "loyal": new.
        let first = app.create(person("First", "first@example.com")).await;
        history(&mut app, &first.name, base, &[(10, 500_000)]).await;
        let i = app.insights(&first.name).await;
        assert_eq!(
            (i.recency_score, i.frequency_score, i.monetary_score),
            (5, 1, 5)
        );
        assert_eq!(i.segment, "new");
        // The default gap of 90 days: 10 / 90 < 1, no risk.
        assert_eq!(i.churn_risk, 0.0);
        let second = app.create(person("Second", "second@example.com")).await;
        history(&mut app, &second.name, base, &[(60, 8_000)]).await;
        assert_eq!(app.insights(&second.name).await.segment, "promising");

        // Gaps 10, 20, 40, 50 (purchases 90, 100, 120, 160, 210 days ago): the median is
        // (20 + 40) / 2 = 30, not the upper middle 40. x = 90 / 30 = 3, risk 2 / 4 = 0.5.
        let even = app.create(person("Even", "even@example.com")).await;
        history(
            &mut app,
            &even.name,
            base,
            &[
                (90, 10_000),
                (100, 10_000),
                (120, 10_000),
                (160, 10_000),
                (210, 10_001),
            ],
        )
        .await;
        let i = app.insights(&even.name).await;
        assert_eq!(i.churn_risk, 0.5);
        assert_eq!(
            i.churn_risk_reasons,
            ["no purchase for 90 days (usual gap 30 days)"]
        );
        // 50,001 fen / 5 = 10,000.2 -> 10,000.
        assert_eq!(
            i.average_order_value.as_ref().map(|m| m.amount_minor),
            Some(10_000)
        );

        // Every two days, then silent for four: the usual gap is 2 days (no 7-day floor),
        // x = 4 / 2 = 2, risk 1 / 3 = 0.333. 101 + 100 + 100 + 100 = 401 fen / 4 = 100.25
        // -> 100; and 100.5 rounds to 101 below.
        let often = app.create(person("Often", "often@example.com")).await;
        history(
            &mut app,
            &often.name,
            base,
            &[(4, 101), (6, 100), (8, 100), (10, 100)],
        )
        .await;
        let i = app.insights(&often.name).await;
        assert_eq!(i.churn_risk, 0.333);
        assert_eq!(
            i.churn_risk_reasons,
            ["no purchase for 4 days (usual gap 2 days)"]
        );
        let half = app.create(person("Half", "half@example.com")).await;
        history(&mut app, &half.name, base, &[(1, 100), (3, 101)]).await;
        let i = app.insights(&half.name).await;
        // 201 fen / 2 = 100.5 -> 101 (half away from zero; truncation gave 100).
        assert_eq!(
            i.average_order_value.as_ref().map(|m| m.amount_minor),
            Some(101)
        );

        // A monthly buyer four months overdue against one silent for 29 years: 0.6 vs
        // 0.994, where both used to be 0.7.
        let months = app.create(person("Months", "months@example.com")).await;
        history(
            &mut app,
            &months.name,
            base,
            &[(120, 9_000), (150, 9_000), (180, 9_000), (210, 9_000)],
        )
        .await;
        // x = 120 / 30 = 4: 3 / 5 = 0.6.
        assert_eq!(app.insights(&months.name).await.churn_risk, 0.6);
        let gone = app.create(person("Gone", "gone@example.com")).await;
        history(
            &mut app,
            &gone.name,
            base,
            &[
                (10_592, 9_000),
                (10_622, 9_000),
                (10_652, 9_000),
                (10_682, 9_000),
            ],
        )
        .await;
        // x = 10,592 / 30 = 353.07: 352.07 / 354.07 = 0.99435 -> 0.994.
        let i = app.insights(&gone.name).await;
        assert_eq!(i.churn_risk, 0.994);
        assert_eq!(i.segment, "lost");
    })
    .await;
}

#[tokio::test]
async fn huge_stored_amounts_never_break_insights() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Whale", "whale@example.com")).await;
        // Rows like those stored before amounts were bounded: written through the service,
        // below the request parsing that now refuses them.
        let id = crm_customers::domain::CustomerId::parse_name(&c.name).expect("name");
        for days in [1, 2] {
            let purchase = crm_customers::domain::insights::Purchase {
                time: Utc::now() - Duration::days(days),
                amount: Some(crm_customers::domain::Money {
                    currency: "CNY".into(),
                    amount_minor: i64::MAX,
                }),
            };
            app.store_activity(
                id,
                crm_customers::domain::ActivityKind::Purchase,
                &purchase,
                days as usize,
            )
            .await;
        }
        for _ in 0..2 {
            let i = app.insights(&c.name).await;
            assert_eq!(i.order_count, 2);
            assert_eq!(i.total_spend[0].amount_minor, i64::MAX, "saturated");
            assert_eq!(
                i.average_order_value.as_ref().map(|m| m.amount_minor),
                Some(i64::MAX)
            );
        }
        // The public API refuses such an amount outright.
        let err = app
            .client
            .record_activity(pb::RecordActivityRequest {
                parent: c.name.clone(),
                activity: Some(pb::Activity {
                    kind: pb::ActivityKind::Purchase as i32,
                    occur_time: Some(prost_types::Timestamp {
                        seconds: Utc::now().timestamp(),
                        nanos: 0,
                    }),
                    amount: Some(crm_proto::common::Money {
                        currency_code: "CNY".into(),
                        amount_minor: i64::MAX,
                    }),
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect_err("too large");
        assert_eq!(violations(&err), ["activity.amount.amount_minor"]);
    })
    .await;
}
