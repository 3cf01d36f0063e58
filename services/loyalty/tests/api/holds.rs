//! Two-phase redemption.
use crate::harness::*;
use crm_proto::loyalty as pb;
use tonic::Code;

async fn hold(
    app: &mut TestApp,
    c: &str,
    points: i64,
    timeout: i64,
) -> Result<pb::HoldResponse, tonic::Status> {
    app.client
        .hold(pb::HoldRequest {
            customer: c.into(),
            points,
            order_id: "order-h".into(),
            timeout_seconds: timeout,
            request_id: rid(),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn holds_reserve_points_and_capture_or_release_them() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        app.adjust(&c, 100).await.expect("seed");
        let h = hold(&mut app, &c, 70, 0).await.expect("hold");
        let b = h.balance.expect("balance");
        assert_eq!((b.available, b.held), (30, 70));
        let err = hold(&mut app, &c, 50, 0).await.expect_err("only 30 left");
        assert_status(&err, Code::FailedPrecondition, "INSUFFICIENT_POINTS");
        let name = h.hold.expect("hold").name;
        let captured = app
            .client
            .capture_hold(pb::CaptureHoldRequest {
                name: name.clone(),
                points: 40,
                request_id: rid(),
            })
            .await
            .expect("capture")
            .into_inner();
        let held = captured.hold.expect("hold");
        assert_eq!(
            (held.state, held.captured_points),
            (pb::HoldState::Captured as i32, 40)
        );
        let b = captured.balance.expect("balance");
        assert_eq!((b.available, b.held, b.lifetime_redeemed), (60, 0, 40));
        let err = app
            .client
            .capture_hold(pb::CaptureHoldRequest {
                name: name.clone(),
                points: 0,
                request_id: rid(),
            })
            .await
            .expect_err("captured already");
        assert_status(&err, Code::FailedPrecondition, "HOLD_NOT_ACTIVE");

        let h2 = hold(&mut app, &c, 20, 0).await.expect("hold 2");
        let name2 = h2.hold.expect("hold").name;
        let err = app
            .client
            .capture_hold(pb::CaptureHoldRequest {
                name: name2.clone(),
                points: 21,
                request_id: rid(),
            })
            .await
            .expect_err("more than held");
        assert_eq!(violations(&err), ["points"]);
        let released = app
            .client
            .release_hold(pb::ReleaseHoldRequest {
                name: name2.clone(),
                request_id: rid(),
            })
            .await
            .expect("release")
            .into_inner();
        let b = released.balance.expect("balance");
        assert_eq!((b.available, b.held), (60, 0));
        let err = app
            .client
            .release_hold(pb::ReleaseHoldRequest {
                name: name2,
                request_id: rid(),
            })
            .await
            .expect_err("released already");
        assert_status(&err, Code::FailedPrecondition, "HOLD_NOT_ACTIVE");
        let err = app
            .client
            .release_hold(pb::ReleaseHoldRequest {
                name: format!("{c}/holds/{}", uuid::Uuid::now_v7()),
                request_id: rid(),
            })
            .await
            .expect_err("no such hold");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
        let err = app
            .client
            .release_hold(pb::ReleaseHoldRequest {
                name: "holds/1".into(),
                request_id: String::new(),
            })
            .await
            .expect_err("bad name");
        assert_eq!(violations(&err), ["name", "request_id"]);
        app.assert_consistent().await;
    })
    .await;
}

#[tokio::test]
async fn timed_out_holds_expire_and_give_the_points_back() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let c = new_customer();
        app.adjust(&c, 100).await.expect("seed");
        let h = hold(&mut app, &c, 80, 1).await.expect("hold");
        let name = h.hold.expect("hold").name;
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        let err = app
            .client
            .capture_hold(pb::CaptureHoldRequest {
                name,
                points: 0,
                request_id: rid(),
            })
            .await
            .expect_err("timed out");
        assert_status(&err, Code::FailedPrecondition, "HOLD_NOT_ACTIVE");
        let out = app
            .client
            .expire(pb::ExpireRequest {
                customer: c.clone(),
                request_id: rid(),
            })
            .await
            .expect("expire")
            .into_inner();
        assert_eq!(out.expired_holds, 1);
        let b = app.balance(&c).await;
        assert_eq!((b.available, b.held), (100, 0));
        app.assert_consistent().await;
    })
    .await;
}
