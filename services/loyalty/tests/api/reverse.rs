//! Refunds and cancellations.
use crate::harness::*;
use crm_proto::loyalty as pb;
use tonic::Code;

async fn reverse(
    app: &mut TestApp,
    c: &str,
    order: &str,
    refund: Option<i64>,
) -> Result<pb::ReverseResponse, tonic::Status> {
    app.client
        .reverse(pb::ReverseRequest {
            customer: c.into(),
            order_id: order.into(),
            refund_amount: refund.map(|a| money("CNY", a)),
            reason: "refund".into(),
            request_id: rid(),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn partial_refunds_claw_back_proportionally_and_recompute_the_tier() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        app.purchase(&c, "order-1", 120_000).await;
        assert_eq!(
            app.balance(&c).await.tier.map(|t| t.tier),
            Some("silver".into())
        );
        let r = reverse(&mut app, &c, "order-1", Some(60_000))
            .await
            .expect("half");
        assert_eq!(
            (r.clawed_back_points, r.shortfall_points, r.restored_points),
            (600, 0, 0)
        );
        let b = r.balance.expect("balance");
        assert_eq!(b.available, 600);
        let tier = b.tier.expect("tier");
        assert_eq!(
            (tier.tier.as_str(), tier.qualifying_points),
            ("regular", 600)
        );
        let r = reverse(&mut app, &c, "order-1", Some(60_000))
            .await
            .expect("rest");
        assert_eq!(r.clawed_back_points, 600);
        let err = reverse(&mut app, &c, "order-1", None)
            .await
            .expect_err("done");
        assert_status(&err, Code::FailedPrecondition, "ALREADY_REVERSED");
        let history = app
            .client
            .list_tier_history(pb::ListTierHistoryRequest {
                customer: c.clone(),
                ..Default::default()
            })
            .await
            .expect("history")
            .into_inner();
        let changes: Vec<_> = history
            .changes
            .iter()
            .map(|h| (h.from_tier.as_str(), h.to_tier.as_str()))
            .collect();
        assert_eq!(
            changes,
            [("silver", "regular"), ("regular", "silver")],
            "newest first"
        );
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn reversing_spent_points_records_a_shortfall_instead_of_going_negative() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        app.purchase(&c, "order-1", 100_000).await;
        app.redeem(&c, 900).await.expect("spend");
        let r = reverse(&mut app, &c, "order-1", None)
            .await
            .expect("reverse");
        assert_eq!((r.clawed_back_points, r.shortfall_points), (100, 900));
        assert_eq!(r.transaction.expect("t").shortfall_points, 900);
        let b = r.balance.expect("balance");
        assert_eq!((b.available, b.owed), (0, 900));
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn cancelling_an_order_paid_with_points_restores_them() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        app.adjust(&c, 500).await.expect("seed");
        app.client
            .redeem(pb::RedeemRequest {
                customer: c.clone(),
                points: 200,
                order_id: "order-9".into(),
                request_id: rid(),
                ..Default::default()
            })
            .await
            .expect("redeem");
        let err = reverse(&mut app, &c, "order-9", Some(100))
            .await
            .expect_err("no amount");
        assert_status(&err, Code::FailedPrecondition, "ORDER_AMOUNT_UNKNOWN");
        let r = reverse(&mut app, &c, "order-9", None)
            .await
            .expect("cancel");
        assert_eq!((r.restored_points, r.clawed_back_points), (200, 0));
        assert_eq!(r.balance.expect("balance").available, 500);
        let err = reverse(&mut app, &c, "order-404", None)
            .await
            .expect_err("unknown");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
        app.assert_consistent().await;
    })
    .await;
}
