//! Movements of points: Earn, Redeem, Adjust, Reverse, Transfer, Expire.
use super::convert;
use super::parse::{self, customer, parsed, text};
use super::{Reply, limits};
use crate::domain::CustomerId;
use crate::error::DOMAIN;
use crate::service::{Adjust, EarnRequest, LoyaltyService, Posted, Redeem};
use crm_platform::Violations;
use crm_platform::audit::{AccessRecord, Action};
use crm_platform::grpc::IntoStatus;
use crm_platform::request_key;
use crm_proto::loyalty as pb;
use tonic::{Request, Response};

pub(super) async fn earn(
    svc: &LoyaltyService,
    request: Request<pb::EarnRequest>,
) -> Reply<pb::EarnResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "Earn", &mut v);
    let c = customer("customer", &req.customer, &mut v);
    let source = parse::earn_source(req.source.as_ref(), svc.program(), &mut v);
    let (available_time, expire_time) = parse::earn_times(
        req.available_time.as_ref(),
        req.expire_time.as_ref(),
        svc.program(),
        &mut v,
    );
    let ((key, c), source) = parsed(v, key.zip(c).zip(source))?;
    let out = svc
        .earn(
            &key,
            EarnRequest {
                customer: c,
                source,
                available_time,
                expire_time,
            },
        )
        .await
        .into_status(DOMAIN)?;
    let (transaction, balance) = posted(&out);
    Ok(Response::new(pb::EarnResponse {
        transaction,
        balance,
    }))
}

pub(super) async fn redeem(
    svc: &LoyaltyService,
    request: Request<pb::RedeemRequest>,
) -> Reply<pb::RedeemResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "Redeem", &mut v);
    let c = customer("customer", &req.customer, &mut v);
    let points = parse::points("points", req.points, limits(svc), &mut v);
    let order_id = text("order_id", &req.order_id, 128, false, &mut v);
    let description = text("description", &req.description, 500, false, &mut v);
    let ((key, c), points) = parsed(v, key.zip(c).zip(points))?;
    let out = svc
        .redeem(
            &key,
            Redeem {
                customer: c,
                points,
                up_to_available: req.up_to_available,
                order_id,
                description,
            },
        )
        .await
        .into_status(DOMAIN)?;
    let (transaction, balance) = posted(&out);
    Ok(Response::new(pb::RedeemResponse {
        transaction,
        balance,
    }))
}

pub(super) async fn adjust(
    svc: &LoyaltyService,
    request: Request<pb::AdjustRequest>,
) -> Reply<pb::AdjustResponse> {
    let who = crm_platform::auth::caller(&request);
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "Adjust", &mut v);
    let c = customer("customer", &req.customer, &mut v);
    let points = parse::adjust_points(req.points, limits(svc), &mut v);
    let reason = text("reason", &req.reason, 500, true, &mut v);
    let actor = text("actor", &req.actor, 128, true, &mut v);
    let ((key, c), points) = parsed(v, key.zip(c).zip(points))?;
    let access = AccessRecord::new(
        &who,
        "/crm.loyalty.v1.LoyaltyService/Adjust",
        Action::Adjust,
        c.name(),
        Some(c.0),
    )
    .detail(format!("points={points}"));
    let out = svc
        .adjust(
            &key,
            Adjust {
                customer: c,
                points,
                reason,
                actor,
            },
            access,
        )
        .await
        .into_status(DOMAIN)?;
    let (transaction, balance) = posted(&out);
    Ok(Response::new(pb::AdjustResponse {
        transaction,
        balance,
    }))
}

pub(super) async fn reverse(
    svc: &LoyaltyService,
    request: Request<pb::ReverseRequest>,
) -> Reply<pb::ReverseResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "Reverse", &mut v);
    let c = customer("customer", &req.customer, &mut v);
    let order_id = text("order_id", &req.order_id, 128, true, &mut v);
    let reason = text("reason", &req.reason, 500, false, &mut v);
    let refund = req
        .refund_amount
        .as_ref()
        .and_then(|m| parse::money("refund_amount", m, limits(svc), &mut v));
    let (key, c) = parsed(v, key.zip(c))?;
    let out = svc
        .reverse(&key, c, &order_id, refund, &reason)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ReverseResponse {
        transaction: Some(convert::transaction(&out.transaction)),
        clawed_back_points: out.clawed_back,
        shortfall_points: out.shortfall,
        restored_points: out.restored,
        balance: Some(convert::balance(&out.balance)),
    }))
}

pub(super) async fn transfer(
    svc: &LoyaltyService,
    request: Request<pb::TransferRequest>,
) -> Reply<pb::TransferResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "Transfer", &mut v);
    let from = customer("from_customer", &req.from_customer, &mut v);
    let to = customer("to_customer", &req.to_customer, &mut v);
    if from.is_some() && from == to {
        v.add("to_customer", "must differ from from_customer");
    }
    let points = parse::points("points", req.points, limits(svc), &mut v);
    let reason = text("reason", &req.reason, 500, false, &mut v);
    let ((key, (from, to)), points) = parsed(v, key.zip(from.zip(to)).zip(points))?;
    let out = svc
        .transfer(&key, from, to, points, &reason)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::TransferResponse {
        debit: Some(convert::transaction(&out.debit)),
        credit: Some(convert::transaction(&out.credit)),
        from_balance: Some(convert::balance(&out.from_balance)),
    }))
}

pub(super) async fn expire(
    svc: &LoyaltyService,
    request: Request<pb::ExpireRequest>,
) -> Reply<pb::ExpireResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "Expire", &mut v);
    let c: Option<Option<CustomerId>> = if req.customer.is_empty() {
        Some(None)
    } else {
        customer("customer", &req.customer, &mut v).map(Some)
    };
    let (key, c) = parsed(v, key.zip(c))?;
    let out = svc.expire(&key, c).await.into_status(DOMAIN)?;
    Ok(Response::new(pb::ExpireResponse {
        expired_points: out.expired_points,
        expired_lots: out.expired_lots,
        expired_holds: out.expired_holds,
        customers: out.customers,
    }))
}

fn posted(p: &Posted) -> (Option<pb::Transaction>, Option<pb::Balance>) {
    (
        Some(convert::transaction(&p.transaction)),
        Some(convert::balance(&p.balance)),
    )
}
