//! Activities and insights.
use crate::harness::*;
use crm_proto::customers as pb;
use tonic::Code;

#[tokio::test]
async fn activities_are_recorded_idempotently_and_listed_newest_first() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Eve", "eve@example.com")).await;
        let t = chrono::Utc::now();
        let view = pb::Activity {
            kind: pb::ActivityKind::View as i32,
            occur_time: Some(prost_types::Timestamp {
                seconds: t.timestamp(),
                nanos: 0,
            }),
            item_id: "room-101".into(),
            ..Default::default()
        };
        let req = pb::RecordActivityRequest {
            parent: c.name.clone(),
            activity: Some(view),
            request_id: rid(),
        };
        let a = app
            .client
            .record_activity(req.clone())
            .await
            .expect("record")
            .into_inner();
        let again = app
            .client
            .record_activity(req)
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(a, again);
        for d in [30, 10, 20] {
            app.purchase(&c.name, d, 5000).await;
        }
        let mut kinds = Vec::new();
        let mut token = String::new();
        loop {
            let page = app
                .client
                .list_activities(pb::ListActivitiesRequest {
                    parent: c.name.clone(),
                    page_size: 3,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .expect("list")
                .into_inner();
            kinds.extend(page.activities.iter().map(|a| {
                (
                    a.kind,
                    a.occur_time.as_ref().map(|t| t.seconds).unwrap_or_default(),
                )
            }));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(kinds.len(), 4, "the replay recorded nothing");
        assert!(
            kinds.windows(2).all(|w| w[0].1 >= w[1].1),
            "newest first: {kinds:?}"
        );
        let purchases = app
            .client
            .list_activities(pb::ListActivitiesRequest {
                parent: c.name.clone(),
                kind: pb::ActivityKind::Purchase as i32,
                ..Default::default()
            })
            .await
            .expect("filter")
            .into_inner();
        assert_eq!(purchases.activities.len(), 3);

        let bad = pb::Activity {
            kind: pb::ActivityKind::Review as i32,
            rating: 9,
            amount: Some(crm_proto::common::Money {
                currency_code: "yuan".into(),
                amount_minor: 1,
            }),
            ..Default::default()
        };
        let err = app
            .client
            .record_activity(pb::RecordActivityRequest {
                parent: c.name.clone(),
                activity: Some(bad),
                request_id: rid(),
            })
            .await
            .expect_err("bad");
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        let mut fields = violations(&err);
        fields.sort();
        assert_eq!(
            fields,
            [
                "activity.amount.currency_code",
                "activity.occur_time",
                "activity.rating"
            ]
        );
        let purchase_without_amount = pb::Activity {
            kind: pb::ActivityKind::Purchase as i32,
            occur_time: Some(prost_types::Timestamp {
                seconds: t.timestamp(),
                nanos: 0,
            }),
            ..Default::default()
        };
        let err = app
            .client
            .record_activity(pb::RecordActivityRequest {
                parent: c.name.clone(),
                activity: Some(purchase_without_amount),
                request_id: rid(),
            })
            .await
            .expect_err("no amount");
        assert_eq!(violations(&err), ["activity.amount"]);
    })
    .await;
}

#[tokio::test]
async fn insights_score_rfm_and_explain_churn() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let loyal = app.create(person("Loyal", "loyal@example.com")).await;
        for d in [2, 30, 60, 90, 120, 150, 180, 210, 240, 270] {
            app.purchase(&loyal.name, d, 60_000).await;
        }
        let i = app
            .client
            .get_customer_insights(pb::GetCustomerInsightsRequest {
                name: loyal.name.clone(),
            })
            .await
            .expect("insights")
            .into_inner();
        assert_eq!(
            (i.recency_score, i.frequency_score, i.monetary_score),
            (5, 5, 5)
        );
        assert_eq!(i.segment, "champions");
        assert_eq!(i.order_count, 10);
        assert_eq!(i.total_spend.first().map(|m| m.amount_minor), Some(600_000));
        assert_eq!(
            i.average_order_value.as_ref().map(|m| m.amount_minor),
            Some(60_000)
        );
        assert!(i.churn_risk < 0.2, "{i:?}");

        let lapsed = app.create(person("Lapsed", "lapsed@example.com")).await;
        for d in [300, 320, 340] {
            app.purchase(&lapsed.name, d, 5_000).await;
        }
        let i = app
            .client
            .get_customer_insights(pb::GetCustomerInsightsRequest {
                name: lapsed.name.clone(),
            })
            .await
            .expect("insights")
            .into_inner();
        assert!(i.churn_risk > 0.6, "{i:?}");
        assert!(
            i.churn_risk_reasons
                .iter()
                .any(|r| r.starts_with("no purchase for 300 days")),
            "{:?}",
            i.churn_risk_reasons
        );
        assert_eq!(i.days_since_last_purchase, 300);

        let none = app.create(person("New", "new@example.com")).await;
        let i = app
            .client
            .get_customer_insights(pb::GetCustomerInsightsRequest { name: none.name })
            .await
            .expect("insights")
            .into_inner();
        assert_eq!(i.segment, "no_purchases");
        assert_eq!(i.days_since_last_purchase, -1);
    })
    .await;
}

fn refund(order: &str, amount_minor: i64, days_ago: i64) -> pb::Activity {
    let t = chrono::Utc::now() - chrono::Duration::days(days_ago);
    pb::Activity {
        kind: pb::ActivityKind::Refund as i32,
        occur_time: Some(prost_types::Timestamp {
            seconds: t.timestamp(),
            nanos: 0,
        }),
        channel: "store".into(),
        amount: Some(crm_proto::common::Money {
            currency_code: "CNY".into(),
            amount_minor,
        }),
        items: vec![pb::PurchaseItem {
            item_id: "sku-1".into(),
            quantity: 1,
            unit_price: None,
        }],
        reference: order.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_refund_is_recorded_listed_and_lowers_spend_not_orders() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Ruth", "ruth@example.com")).await;
        let bought = app.purchase(&c.name, 20, 60_000).await;
        app.purchase(&c.name, 40, 40_000).await;
        let recorded = app
            .client
            .record_activity(pb::RecordActivityRequest {
                parent: c.name.clone(),
                activity: Some(refund(&bought.reference, 30_000, 10)),
                request_id: rid(),
            })
            .await
            .expect("refund")
            .into_inner();
        assert_eq!(recorded.kind, pb::ActivityKind::Refund as i32);
        assert_eq!(recorded.reference, bought.reference);
        assert_eq!(
            recorded.amount.as_ref().map(|m| m.amount_minor),
            Some(30_000)
        );
        assert_eq!(recorded.items.len(), 1);
        let refunds = app
            .client
            .list_activities(pb::ListActivitiesRequest {
                parent: c.name.clone(),
                kind: pb::ActivityKind::Refund as i32,
                ..Default::default()
            })
            .await
            .expect("list refunds")
            .into_inner();
        assert_eq!(refunds.activities, [recorded]);
        let i = app.insights(&c.name).await;
        // Two orders, 100,000 - 30,000 = 70,000 fen net: M 3 (it was 4), the average
        // 35,000; recency from the purchase 20 days ago, not the refund.
        assert_eq!(i.order_count, 2);
        assert_eq!(i.total_spend.first().map(|m| m.amount_minor), Some(70_000));
        assert_eq!(
            i.average_order_value.as_ref().map(|m| m.amount_minor),
            Some(35_000)
        );
        assert_eq!(
            (i.recency_score, i.frequency_score, i.monetary_score),
            (5, 2, 3)
        );
        assert_eq!(i.days_since_last_purchase, 20);
    })
    .await;
}

#[tokio::test]
async fn a_bad_refund_is_invalid_argument_naming_every_field() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = app.create(person("Rex", "rex@example.com")).await;
        let mut record = async |a: pb::Activity| {
            let err = app
                .client
                .record_activity(pb::RecordActivityRequest {
                    parent: c.name.clone(),
                    activity: Some(a),
                    request_id: rid(),
                })
                .await
                .expect_err("refused");
            assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
            let mut fields = violations(&err);
            fields.sort();
            fields
        };
        // No order named, no amount.
        let bare = pb::Activity {
            amount: None,
            reference: String::new(),
            ..refund("", 0, 1)
        };
        assert_eq!(
            record(bare).await,
            ["activity.amount", "activity.reference"]
        );
        // Bounded like a purchase: amount at most max_amount_major units, positive; items
        // need an id and a quantity; the reference is one line of at most 128 characters.
        let mut bad = refund(&"r".repeat(129), 1_000_000_000 * 100 + 1, 1);
        bad.items = vec![pb::PurchaseItem {
            item_id: String::new(),
            quantity: 0,
            unit_price: None,
        }];
        assert_eq!(
            record(bad).await,
            [
                "activity.amount.amount_minor",
                "activity.items[0].item_id",
                "activity.items[0].quantity",
                "activity.reference",
            ]
        );
        assert_eq!(
            record(refund("order-1", -5, 1)).await,
            ["activity.amount.amount_minor"]
        );
        let listed = app
            .client
            .list_activities(pb::ListActivitiesRequest {
                parent: c.name.clone(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        assert!(listed.activities.is_empty(), "nothing written");
    })
    .await;
}
