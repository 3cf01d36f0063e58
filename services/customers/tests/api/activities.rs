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
