//! GetCustomerInsights' purchase and refund figures are aggregated by the database (a row per
//! currency, the 100 most recent times) and equal the definition computed over the whole
//! history.
use crate::harness::*;
use chrono::{Duration, DurationRound, Utc};
use crm_customers::domain::insights::{Purchase, PurchaseSummary, RECENT_WINDOW, Refund};
use crm_customers::domain::{ActivityKind, CustomerId, Money};
use crm_customers::store::activities;
use crm_platform::testing::plans::{assert_index_range, planning_session, query_plan};
use sea_orm::{ConnectionTrait, QueryTrait};

#[tokio::test]
async fn purchase_totals_in_sql_equal_the_definition_over_the_whole_history() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Long History", "long@example.com")).await;
        let id = CustomerId::parse_name(&c.name).expect("name");
        let now = Utc::now().duration_trunc(Duration::seconds(1)).expect("t");
        let mut purchases = Vec::new();
        for i in 0..(RECENT_WINDOW + 40) as i64 {
            let amount = match i % 7 {
                0 => Some(("EUR", 500 + i)),
                1 => Some(("USD", 1_999 + i)),
                // Near the top: sums past i64::MAX stay exact (then saturate).
                2 if i < 30 => Some(("CNY", i64::MAX - i)),
                _ => Some(("CNY", 10_000 + 37 * i)),
            };
            purchases.push(Purchase {
                // Spread over two years, some on the same day, the last-year bound crossed.
                time: now - Duration::hours(5 * i * i % 17_000) - Duration::days(i % 3),
                amount: amount.map(|(c, a)| Money {
                    currency: c.into(),
                    amount_minor: a,
                }),
            });
        }
        // Refunds: CNY and USD netted, more EUR refunded than bought (floored at 0), GBP
        // never bought; some older than a year.
        let mut refunds = Vec::new();
        for i in 0..45_i64 {
            let (currency, amount) = match i % 3 {
                0 => ("CNY", 3_000 + i),
                1 => ("USD", 700 + i),
                _ if i < 20 => ("GBP", 100),
                _ => ("EUR", 2_000),
            };
            refunds.push(Refund {
                time: now - Duration::days(29 * i % 500),
                amount: Some(Money {
                    currency: currency.into(),
                    amount_minor: amount,
                }),
            });
        }
        for (n, p) in purchases.iter().enumerate() {
            app.store_activity(id, ActivityKind::Purchase, p, n).await;
        }
        for (n, r) in refunds.iter().enumerate() {
            app.store_activity(id, ActivityKind::Refund, r, n).await;
        }
        purchases.sort_by_key(|p| std::cmp::Reverse(p.time));
        refunds.sort_by_key(|p| std::cmp::Reverse(p.time));
        let expected = PurchaseSummary::from_history(&purchases, &refunds, 0, now);
        let eur = expected.totals.iter().find(|m| m.currency == "EUR");
        assert_eq!(eur.map(|m| m.amount_minor), Some(0), "refunds beyond spend");
        assert!(expected.totals.iter().all(|m| m.currency != "GBP"));
        let db = sea_orm::Database::connect(app.storage.database_url.as_str())
            .await
            .expect("db");
        let got = activities::purchase_summary(&db, id, now)
            .await
            .expect("summary");
        assert_eq!(got, expected);
        assert_eq!(got.recent_purchases.len(), RECENT_WINDOW);
        assert_eq!(got.totals[0].amount_minor, i64::MAX, "saturated");
        assert!(got.main_total_minor > i128::from(i64::MAX));
        // And through the API.
        let i = app
            .client
            .get_customer_insights(crm_proto::customers::GetCustomerInsightsRequest {
                name: c.name.clone(),
            })
            .await
            .expect("insights")
            .into_inner();
        assert_eq!(i.order_count, expected.order_count);
    })
    .await;
}

#[tokio::test]
async fn purchase_totals_read_the_customers_index_range() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let (_db, txn) = planning_session(&app.storage.database_url).await;
        let b = txn.get_database_backend();
        let id = CustomerId(uuid::Uuid::now_v7());
        for kind in [ActivityKind::Purchase, ActivityKind::Refund] {
            for since in [None, Some(Utc::now() - Duration::days(365))] {
                let what = format!("{kind:?} totals since {since:?}");
                let s = activities::currency_totals_select(id, kind, since).build(b);
                let p = query_plan(&txn, s).await;
                assert_index_range(backend, &what, &p, "activities", "idx_activities_customer");
            }
        }
        let p = query_plan(&txn, activities::recent_purchases_select(id).build(b)).await;
        crm_platform::testing::plans::assert_ordered_index_read(
            backend,
            "recent purchases",
            &p,
            "activities",
            "idx_activities_customer",
        );
        assert_index_range(
            backend,
            "recent purchases",
            &p,
            "activities",
            "idx_activities_customer",
        );
    })
    .await;
}
