//! RecordInteractions: recorded with the kind's default weight or the caller's, duplicates by
//! interaction_id counted not re-recorded, all or nothing on bad input, idempotent retries.
use crate::harness::{TestApp, assert_status, each_backend, rid, spawn_app, violations};
use crm_proto::recommendations as pb;
use crm_recommendations::store::entities::interaction;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::Code;
use uuid::Uuid;

fn now() -> prost_types::Timestamp {
    crm_platform::validate::to_timestamp(chrono::Utc::now() - chrono::TimeDelta::seconds(5))
}

fn view(id: &str, customer: Uuid, item: &str) -> pb::Interaction {
    pb::Interaction {
        interaction_id: id.into(),
        customer: format!("customers/{customer}"),
        item: format!("items/{item}"),
        kind: pb::InteractionKind::View as i32,
        occur_time: Some(now()),
        ..Default::default()
    }
}

async fn record(
    app: &mut TestApp,
    interactions: Vec<pb::Interaction>,
    request_id: &str,
) -> Result<pb::RecordInteractionsResponse, tonic::Status> {
    app.client
        .record_interactions(pb::RecordInteractionsRequest {
            interactions,
            request_id: request_id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn count(app: &TestApp) -> u64 {
    interaction::Entity::find()
        .count(app.service.db())
        .await
        .expect("count")
}

#[tokio::test]
async fn interactions_are_recorded_once_by_id_with_default_or_given_weights() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = Uuid::now_v7();
        let purchase = pb::Interaction {
            kind: pb::InteractionKind::Purchase as i32,
            quantity: 2,
            basket_id: "order-1".into(),
            ..view("order-1:1", c, "sku-1")
        };
        let review = pb::Interaction {
            kind: pb::InteractionKind::Review as i32,
            rating: 5,
            ..view("review-1", c, "sku-1")
        };
        let heavy = pb::Interaction {
            weight: 7.5,
            ..view("view-2", c, "never-catalogued")
        };
        // view-1 twice in one call: the second is a duplicate.
        let first = vec![
            view("view-1", c, "sku-2"),
            purchase,
            review,
            heavy,
            view("view-1", c, "sku-2"),
        ];
        let r = record(&mut app, first.clone(), &rid())
            .await
            .expect("record");
        assert_eq!((r.recorded_count, r.duplicate_count), (4, 1));
        let rows = interaction::Entity::find()
            .filter(interaction::Column::CustomerId.eq(c))
            .all(app.service.db())
            .await
            .expect("rows");
        let by_key = |k: &str| rows.iter().find(|r| r.source_key == k).expect(k).clone();
        // Defaults of config/recommendations.toml: view 1, purchase 4, a 5-star review 3.
        assert_eq!(by_key("api:view-1").weight, 1.0);
        let p = by_key("api:order-1:1");
        assert_eq!(
            (p.weight, p.quantity, p.basket_id.as_str(), p.kind),
            (4.0, 2, "order-1", 3)
        );
        assert_eq!(
            (by_key("api:review-1").weight, by_key("api:review-1").rating),
            (3.0, 5)
        );
        assert_eq!(by_key("api:view-2").weight, 7.5);
        assert_eq!(by_key("api:view-2").item_id, "never-catalogued");
        assert_eq!(by_key("api:view-1").quantity, 1, "0 means 1");

        // A retry of the same call replays its answer; a new call with known ids counts them.
        let key = rid();
        let again = vec![view("view-1", c, "sku-2"), view("view-3", c, "sku-3")];
        let r = record(&mut app, again.clone(), &key).await.expect("record");
        assert_eq!((r.recorded_count, r.duplicate_count), (1, 1));
        let r = record(&mut app, again.clone(), &key).await.expect("replay");
        assert_eq!((r.recorded_count, r.duplicate_count), (1, 1));
        let err = record(&mut app, first, &key).await.expect_err("reused");
        assert_status(&err, Code::AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
        assert_eq!(count(&app).await, 5);
    })
    .await;
}

#[tokio::test]
async fn one_bad_interaction_refuses_the_whole_call() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = Uuid::now_v7();
        let good = view("ok-1", c, "sku-1");
        let at = |seconds: i64| Some(prost_types::Timestamp { seconds, nanos: 0 });
        let future = crm_platform::validate::to_timestamp(
            chrono::Utc::now() + chrono::TimeDelta::minutes(5),
        );
        let cases: Vec<(&str, pb::Interaction)> = vec![
            (
                "interaction_id",
                pb::Interaction {
                    interaction_id: "a b".into(),
                    ..good.clone()
                },
            ),
            (
                "interaction_id",
                pb::Interaction {
                    interaction_id: String::new(),
                    ..good.clone()
                },
            ),
            (
                "customer",
                pb::Interaction {
                    customer: "customers/x".into(),
                    ..good.clone()
                },
            ),
            (
                "item",
                pb::Interaction {
                    item: "sku-1".into(),
                    ..good.clone()
                },
            ),
            (
                "item",
                pb::Interaction {
                    item: "items/a\0b".into(),
                    ..good.clone()
                },
            ),
            (
                "kind",
                pb::Interaction {
                    kind: 0,
                    ..good.clone()
                },
            ),
            (
                "kind",
                pb::Interaction {
                    kind: 99,
                    ..good.clone()
                },
            ),
            (
                "weight",
                pb::Interaction {
                    weight: -1.0,
                    ..good.clone()
                },
            ),
            (
                "weight",
                pb::Interaction {
                    weight: 100.5,
                    ..good.clone()
                },
            ),
            (
                "weight",
                pb::Interaction {
                    weight: f64::NAN,
                    ..good.clone()
                },
            ),
            (
                "rating",
                pb::Interaction {
                    rating: 3,
                    ..good.clone()
                },
            ),
            (
                "rating",
                pb::Interaction {
                    kind: pb::InteractionKind::Review as i32,
                    rating: 6,
                    ..good.clone()
                },
            ),
            (
                "quantity",
                pb::Interaction {
                    quantity: 10_001,
                    ..good.clone()
                },
            ),
            (
                "quantity",
                pb::Interaction {
                    quantity: -1,
                    ..good.clone()
                },
            ),
            (
                "occur_time",
                pb::Interaction {
                    occur_time: None,
                    ..good.clone()
                },
            ),
            (
                "occur_time",
                pb::Interaction {
                    occur_time: Some(future),
                    ..good.clone()
                },
            ),
            (
                "occur_time",
                pb::Interaction {
                    occur_time: at(-1),
                    ..good.clone()
                },
            ),
            (
                "occur_time",
                pb::Interaction {
                    occur_time: at(i64::MIN),
                    ..good.clone()
                },
            ),
            (
                "basket_id",
                pb::Interaction {
                    basket_id: "x".repeat(129),
                    ..good.clone()
                },
            ),
            (
                "basket_id",
                pb::Interaction {
                    basket_id: "a\u{1b}b".into(),
                    ..good.clone()
                },
            ),
        ];
        for (field, bad) in cases {
            let err = record(&mut app, vec![good.clone(), bad], &rid())
                .await
                .expect_err(field);
            assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
            assert_eq!(violations(&err), [format!("interactions[1].{field}")]);
        }
        let err = record(&mut app, Vec::new(), &rid())
            .await
            .expect_err("none");
        assert_eq!(violations(&err), ["interactions"]);
        let err = record(&mut app, vec![good.clone(); 1001], &rid())
            .await
            .expect_err("too many");
        assert_eq!(violations(&err), ["interactions"]);
        let err = record(&mut app, vec![good.clone()], "not-a-uuid")
            .await
            .expect_err("request id");
        assert_eq!(violations(&err), ["request_id"]);
        assert_eq!(count(&app).await, 0, "nothing written");

        // 1000 is the limit, not more.
        let many: Vec<_> = (0..1000)
            .map(|i| view(&format!("v-{i}"), c, "sku-1"))
            .collect();
        let r = record(&mut app, many, &rid()).await.expect("1000");
        assert_eq!(r.recorded_count, 1000);
        assert_eq!(count(&app).await, 1000);
    })
    .await;
}
