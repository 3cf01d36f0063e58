//! RecordFeedback: outcomes attributed to the items of a served answer, each item and kind
//! once, idempotent by request id, with its bounds (unknown answer, item not in it, times).
use crate::harness::{assert_status, each_backend, rid, violations};
use crate::serving::{app, item, names};
use chrono::{TimeDelta, Utc};
use crm_platform::validate::to_timestamp;
use crm_proto::recommendations as pb;
use tonic::Code;
use uuid::Uuid;

#[tokio::test]
async fn feedback_counts_each_item_and_kind_once_and_replays_by_request_id() {
    each_backend(|backend| async move {
        let mut app = app(backend).await;
        // In id order before any model: x and y are served, zz is not.
        for id in ["x", "y", "zz"] {
            item(&app, id, "books", &[], true).await;
        }
        let r = app
            .client
            .recommend_for_customer(pb::RecommendForCustomerRequest {
                customer: format!("customers/{}", Uuid::now_v7()),
                max_results: 2,
                scenario: "homepage".into(),
                ..Default::default()
            })
            .await
            .expect("recommend")
            .into_inner();
        assert_eq!(names(&r.items), ["x", "y"]);
        let send =
            |items: &[&str], kind: pb::FeedbackKind, request_id: &str| pb::RecordFeedbackRequest {
                recommendation_id: r.recommendation_id.clone(),
                items: items.iter().map(|i| format!("items/{i}")).collect(),
                kind: kind as i32,
                occur_time: None,
                request_id: request_id.to_owned(),
            };
        let first_id = rid();
        let shown = app
            .client
            .record_feedback(send(&["x", "y"], pb::FeedbackKind::Shown, &first_id))
            .await
            .expect("shown")
            .into_inner();
        assert_eq!(
            (shown.recorded_count, shown.shown_count, shown.clicked_count),
            (2, 2, 0)
        );
        let clicked = app
            .client
            .record_feedback(send(&["x"], pb::FeedbackKind::Clicked, &rid()))
            .await
            .expect("clicked")
            .into_inner();
        assert_eq!(
            (
                clicked.recorded_count,
                clicked.shown_count,
                clicked.clicked_count
            ),
            (1, 2, 1)
        );
        // The same outcome again under a new id records nothing new.
        let again = app
            .client
            .record_feedback(send(&["x"], pb::FeedbackKind::Clicked, &rid()))
            .await
            .expect("again")
            .into_inner();
        assert_eq!((again.recorded_count, again.clicked_count), (0, 1));
        // A retry of the first call replays its answer.
        let replay = app
            .client
            .record_feedback(send(&["x", "y"], pb::FeedbackKind::Shown, &first_id))
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(replay, shown);
        // The same id with another payload is refused.
        let err = app
            .client
            .record_feedback(send(&["x"], pb::FeedbackKind::Converted, &first_id))
            .await
            .expect_err("reused id");
        assert_status(&err, Code::AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
        let converted = app
            .client
            .record_feedback(send(&["y"], pb::FeedbackKind::Converted, &rid()))
            .await
            .expect("converted")
            .into_inner();
        assert_eq!(
            (
                converted.shown_count,
                converted.clicked_count,
                converted.converted_count
            ),
            (2, 1, 1)
        );

        // An item not in that answer: INVALID_ARGUMENT naming it, nothing written.
        let err = app
            .client
            .record_feedback(send(&["x", "zz"], pb::FeedbackKind::Converted, &rid()))
            .await
            .expect_err("zz was not served");
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(violations(&err), ["items[1]"]);
        let after = app
            .client
            .record_feedback(send(&["y"], pb::FeedbackKind::Converted, &rid()))
            .await
            .expect("count")
            .into_inner();
        assert_eq!(after.converted_count, 1, "x was not recorded as converted");

        // Before the answer, in the future.
        let mut early = send(&["x"], pb::FeedbackKind::Converted, &rid());
        early.occur_time = Some(to_timestamp(Utc::now() - TimeDelta::hours(1)));
        let err = app.client.record_feedback(early).await.expect_err("early");
        assert_eq!(violations(&err), ["occur_time"]);
        let mut late = send(&["x"], pb::FeedbackKind::Converted, &rid());
        late.occur_time = Some(to_timestamp(Utc::now() + TimeDelta::hours(1)));
        let err = app.client.record_feedback(late).await.expect_err("late");
        assert_eq!(violations(&err), ["occur_time"]);

        // An unknown answer.
        let mut unknown = send(&["x"], pb::FeedbackKind::Shown, &rid());
        unknown.recommendation_id = format!("recommendations/{}", Uuid::now_v7());
        let err = app
            .client
            .record_feedback(unknown)
            .await
            .expect_err("unknown");
        assert_status(&err, Code::NotFound, "NOT_FOUND");

        // Bad input: every field named.
        let err = app
            .client
            .record_feedback(pb::RecordFeedbackRequest {
                recommendation_id: "recs/1".into(),
                items: vec![],
                kind: 9,
                occur_time: Some(prost_types::Timestamp {
                    seconds: i64::MAX,
                    nanos: 0,
                }),
                request_id: "nope".into(),
            })
            .await
            .expect_err("bad");
        assert_eq!(
            violations(&err),
            [
                "items",
                "kind",
                "occur_time",
                "recommendation_id",
                "request_id"
            ]
        );
    })
    .await;
}
