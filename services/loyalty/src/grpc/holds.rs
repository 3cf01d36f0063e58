//! Two-phase redemption: Hold, CaptureHold, ReleaseHold.
use super::convert;
use super::parse::{self, customer, parsed, text};
use super::{Reply, limits};
use crate::error::DOMAIN;
use crate::service::LoyaltyService;
use crm_platform::Violations;
use crm_platform::grpc::IntoStatus;
use crm_platform::request_key;
use crm_proto::loyalty as pb;
use tonic::{Request, Response};

pub(super) async fn hold(
    svc: &LoyaltyService,
    request: Request<pb::HoldRequest>,
) -> Reply<pb::HoldResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "Hold", &mut v);
    let c = customer("customer", &req.customer, &mut v);
    let points = parse::points("points", req.points, limits(svc), &mut v);
    let order_id = text("order_id", &req.order_id, 128, false, &mut v);
    if req.timeout_seconds < 0 {
        v.add("timeout_seconds", "must not be negative");
    }
    // Longer timeouts are lowered to the programme's (documented in the proto).
    let timeout = (req.timeout_seconds > 0).then_some(req.timeout_seconds);
    let ((key, c), points) = parsed(v, key.zip(c).zip(points))?;
    let out = svc
        .hold(&key, c, points, &order_id, timeout)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(hold_reply(&out)))
}

pub(super) async fn capture_hold(
    svc: &LoyaltyService,
    request: Request<pb::CaptureHoldRequest>,
) -> Reply<pb::HoldResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "CaptureHold", &mut v);
    let hold = v.check("name", crate::domain::parse_hold_name(&req.name));
    if req.points != 0 {
        parse::points("points", req.points, limits(svc), &mut v);
    }
    let points = (req.points > 0).then_some(req.points);
    let (key, (c, h)) = parsed(v, key.zip(hold))?;
    let out = svc.capture(&key, c, h, points).await.into_status(DOMAIN)?;
    Ok(Response::new(hold_reply(&out)))
}

pub(super) async fn release_hold(
    svc: &LoyaltyService,
    request: Request<pb::ReleaseHoldRequest>,
) -> Reply<pb::HoldResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "ReleaseHold", &mut v);
    let hold = v.check("name", crate::domain::parse_hold_name(&req.name));
    let (key, (c, h)) = parsed(v, key.zip(hold))?;
    let out = svc.release(&key, c, h).await.into_status(DOMAIN)?;
    Ok(Response::new(hold_reply(&out)))
}

fn hold_reply(o: &crate::service::HoldOutcome) -> pb::HoldResponse {
    pb::HoldResponse {
        hold: Some(convert::hold(&o.hold)),
        transaction: Some(convert::transaction(&o.transaction)),
        balance: Some(convert::balance(&o.balance)),
    }
}
