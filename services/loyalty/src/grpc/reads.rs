//! Reads: the programme, balances, statements, tiers, and the ledger check.
use super::Reply;
use super::convert;
use super::parse::{self, customer, page_size, parsed};
use crate::domain::{CustomerId, DEFAULT_PROGRAM, TxKind};
use crate::error::DOMAIN;
use crate::service::{LoyaltyService, TxFilter};
use crm_platform::Violations;
use crm_platform::auth::{Principal, caller};
use crm_platform::grpc::IntoStatus;
use crm_platform::validate;
use crm_proto::loyalty as pb;
use tonic::{Request, Response};

/// The object-level rule of the self-service reads: a customer's own token reaches only its
/// own account.
fn own(who: &Principal, c: CustomerId) -> Result<(), tonic::Status> {
    who.require_customer(c.0).into_status(DOMAIN)
}

pub(super) async fn get_program(
    svc: &LoyaltyService,
    request: Request<pb::GetProgramRequest>,
) -> Reply<pb::Program> {
    let name = &request.get_ref().name;
    let mut v = Violations::new();
    if name != DEFAULT_PROGRAM {
        v.add(
            "name",
            format!("must be {DEFAULT_PROGRAM:?} (the only programme)"),
        );
    }
    parsed(v, Some(()))?;
    Ok(Response::new(convert::program(svc.program())))
}

pub(super) async fn get_balance(
    svc: &LoyaltyService,
    request: Request<pb::GetBalanceRequest>,
) -> Reply<pb::Balance> {
    let who = caller(&request);
    let mut v = Violations::new();
    let c = customer("customer", &request.get_ref().customer, &mut v);
    let c = parsed(v, c)?;
    own(&who, c)?;
    let b = svc.balance(c).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::balance(&b)))
}

pub(super) async fn get_balance_at(
    svc: &LoyaltyService,
    request: Request<pb::GetBalanceAtRequest>,
) -> Reply<pb::GetBalanceAtResponse> {
    let who = caller(&request);
    let req = request.into_inner();
    let mut v = Violations::new();
    let c = customer("customer", &req.customer, &mut v);
    // Any time in the protobuf range (before the first transaction: zero); not later
    // than now plus the clock skew.
    let t = validate::required_timestamp("time", req.time.as_ref(), &mut v)
        .map(crate::domain::truncate)
        .filter(|t| validate::not_in_future("time", *t, crate::domain::now(), &mut v));
    let (c, t) = parsed(v, c.zip(t))?;
    own(&who, c)?;
    let b = svc.balance_at(c, t).await.into_status(DOMAIN)?;
    Ok(Response::new(pb::GetBalanceAtResponse {
        customer: c.name(),
        time: Some(validate::to_timestamp(t)),
        wallet: b.wallet,
        held: b.held,
        sequence: b.sequence,
    }))
}

pub(super) async fn list_transactions(
    svc: &LoyaltyService,
    request: Request<pb::ListTransactionsRequest>,
) -> Reply<pb::ListTransactionsResponse> {
    let who = caller(&request);
    let req = request.into_inner();
    let mut v = Violations::new();
    let c = customer("customer", &req.customer, &mut v);
    let size = page_size(req.page_size, &mut v);
    let start = parse::opt_time(req.start_time.as_ref(), "start_time", &mut v);
    let end = parse::opt_time(req.end_time.as_ref(), "end_time", &mut v);
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        v.add("end_time", "must be after start_time");
    }
    let mut kinds = Vec::new();
    if validate::max_items("kinds", req.kinds.len(), TxKind::ALL.len(), &mut v) {
        kinds = req
            .kinds
            .iter()
            .enumerate()
            .filter_map(|(i, k)| convert::kind_from(*k, &format!("kinds[{i}]"), &mut v))
            .collect();
    }
    let c = parsed(v, c)?;
    own(&who, c)?;
    let filter = TxFilter { start, end, kinds };
    let page = svc
        .list_transactions(c, &filter, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListTransactionsResponse {
        transactions: page.items.iter().map(convert::transaction).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub(super) async fn get_tier(
    svc: &LoyaltyService,
    request: Request<pb::GetTierRequest>,
) -> Reply<pb::TierStatus> {
    let who = caller(&request);
    let mut v = Violations::new();
    let c = customer("customer", &request.get_ref().customer, &mut v);
    let c = parsed(v, c)?;
    own(&who, c)?;
    let t = svc.tier(c).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::tier_status(&t)))
}

pub(super) async fn list_tier_history(
    svc: &LoyaltyService,
    request: Request<pb::ListTierHistoryRequest>,
) -> Reply<pb::ListTierHistoryResponse> {
    let who = caller(&request);
    let req = request.into_inner();
    let mut v = Violations::new();
    let c = customer("customer", &req.customer, &mut v);
    let size = page_size(req.page_size, &mut v);
    let c = parsed(v, c)?;
    own(&who, c)?;
    let page = svc
        .tier_history(c, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListTierHistoryResponse {
        changes: page.items.iter().map(convert::tier_change).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub(super) async fn verify_ledger(
    svc: &LoyaltyService,
    request: Request<pb::VerifyLedgerRequest>,
) -> Reply<pb::VerifyLedgerResponse> {
    let raw = &request.get_ref().customer;
    let mut v = Violations::new();
    let c: Option<Option<CustomerId>> = if raw.is_empty() {
        Some(None)
    } else {
        customer("customer", raw, &mut v).map(Some)
    };
    let c = parsed(v, c)?;
    let out = svc.verify(c).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::verification(&out)))
}
