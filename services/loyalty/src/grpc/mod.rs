//! The gRPC adapter: parses requests into domain types (every bad field reported at once),
//! calls [`LoyaltyService`], converts results back. No business rules live here.
mod convert;
mod parse;

use crate::domain::{CustomerId, DEFAULT_PROGRAM, Limits, TxKind};
use crate::error::DOMAIN;
use crate::service::{Adjust, EarnRequest, LoyaltyService, Posted, Redeem, TxFilter};
use crm_platform::Violations;
use crm_platform::grpc::{IntoStatus, idempotency_key};
use crm_platform::validate;
use crm_proto::loyalty as pb;
use crm_proto::loyalty::loyalty_service_server::LoyaltyService as LoyaltyRpc;
use parse::{customer, page_size, parsed, text};
use tonic::{Request, Response, Status};

pub use pb::loyalty_service_server::LoyaltyServiceServer;

pub struct LoyaltyGrpc {
    svc: LoyaltyService,
}

impl LoyaltyGrpc {
    pub fn new(svc: LoyaltyService) -> Self {
        Self { svc }
    }

    fn limits(&self) -> &Limits {
        &self.svc.program().limits
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn posted(p: &Posted) -> (Option<pb::Transaction>, Option<pb::Balance>) {
    (
        Some(convert::transaction(&p.transaction)),
        Some(convert::balance(&p.balance)),
    )
}

fn hold_reply(o: &crate::service::HoldOutcome) -> pb::HoldResponse {
    pb::HoldResponse {
        hold: Some(convert::hold(&o.hold)),
        transaction: Some(convert::transaction(&o.transaction)),
        balance: Some(convert::balance(&o.balance)),
    }
}

#[tonic::async_trait]
impl LoyaltyRpc for LoyaltyGrpc {
    async fn get_program(&self, request: Request<pb::GetProgramRequest>) -> Reply<pb::Program> {
        let name = &request.get_ref().name;
        let mut v = Violations::new();
        if name != DEFAULT_PROGRAM {
            v.add(
                "name",
                format!("must be {DEFAULT_PROGRAM:?} (the only programme)"),
            );
        }
        parsed(v, Some(()))?;
        Ok(Response::new(convert::program(self.svc.program())))
    }

    async fn earn(&self, request: Request<pb::EarnRequest>) -> Reply<pb::EarnResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "Earn",
            |r| r.request_id.clear(),
            &mut v,
        );
        let c = customer("customer", &req.customer, &mut v);
        let source = parse::earn_source(req.source.as_ref(), self.svc.program(), &mut v);
        let (available_time, expire_time) = parse::earn_times(
            req.available_time.as_ref(),
            req.expire_time.as_ref(),
            self.svc.program(),
            &mut v,
        );
        let ((key, c), source) = parsed(v, key.zip(c).zip(source))?;
        let out = self
            .svc
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

    async fn redeem(&self, request: Request<pb::RedeemRequest>) -> Reply<pb::RedeemResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "Redeem",
            |r| r.request_id.clear(),
            &mut v,
        );
        let c = customer("customer", &req.customer, &mut v);
        let points = parse::points("points", req.points, self.limits(), &mut v);
        let order_id = text("order_id", &req.order_id, 128, false, &mut v);
        let description = text("description", &req.description, 500, false, &mut v);
        let ((key, c), points) = parsed(v, key.zip(c).zip(points))?;
        let out = self
            .svc
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

    async fn hold(&self, request: Request<pb::HoldRequest>) -> Reply<pb::HoldResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "Hold",
            |r| r.request_id.clear(),
            &mut v,
        );
        let c = customer("customer", &req.customer, &mut v);
        let points = parse::points("points", req.points, self.limits(), &mut v);
        let order_id = text("order_id", &req.order_id, 128, false, &mut v);
        if req.timeout_seconds < 0 {
            v.add("timeout_seconds", "must not be negative");
        }
        // Longer timeouts are lowered to the programme's (documented in the proto).
        let timeout = (req.timeout_seconds > 0).then_some(req.timeout_seconds);
        let ((key, c), points) = parsed(v, key.zip(c).zip(points))?;
        let out = self
            .svc
            .hold(&key, c, points, &order_id, timeout)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(hold_reply(&out)))
    }

    async fn capture_hold(
        &self,
        request: Request<pb::CaptureHoldRequest>,
    ) -> Reply<pb::HoldResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "CaptureHold",
            |r| r.request_id.clear(),
            &mut v,
        );
        let hold = v.check("name", crate::domain::parse_hold_name(&req.name));
        if req.points != 0 {
            parse::points("points", req.points, self.limits(), &mut v);
        }
        let points = (req.points > 0).then_some(req.points);
        let (key, (c, h)) = parsed(v, key.zip(hold))?;
        let out = self
            .svc
            .capture(&key, c, h, points)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(hold_reply(&out)))
    }

    async fn release_hold(
        &self,
        request: Request<pb::ReleaseHoldRequest>,
    ) -> Reply<pb::HoldResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "ReleaseHold",
            |r| r.request_id.clear(),
            &mut v,
        );
        let hold = v.check("name", crate::domain::parse_hold_name(&req.name));
        let (key, (c, h)) = parsed(v, key.zip(hold))?;
        let out = self.svc.release(&key, c, h).await.into_status(DOMAIN)?;
        Ok(Response::new(hold_reply(&out)))
    }

    async fn reverse(&self, request: Request<pb::ReverseRequest>) -> Reply<pb::ReverseResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "Reverse",
            |r| r.request_id.clear(),
            &mut v,
        );
        let c = customer("customer", &req.customer, &mut v);
        let order_id = text("order_id", &req.order_id, 128, true, &mut v);
        let reason = text("reason", &req.reason, 500, false, &mut v);
        let refund = req
            .refund_amount
            .as_ref()
            .and_then(|m| parse::money("refund_amount", m, self.limits(), &mut v));
        let (key, c) = parsed(v, key.zip(c))?;
        let out = self
            .svc
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

    async fn adjust(&self, request: Request<pb::AdjustRequest>) -> Reply<pb::AdjustResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "Adjust",
            |r| r.request_id.clear(),
            &mut v,
        );
        let c = customer("customer", &req.customer, &mut v);
        let points = parse::adjust_points(req.points, self.limits(), &mut v);
        let reason = text("reason", &req.reason, 500, true, &mut v);
        let actor = text("actor", &req.actor, 128, true, &mut v);
        let ((key, c), points) = parsed(v, key.zip(c).zip(points))?;
        let out = self
            .svc
            .adjust(
                &key,
                Adjust {
                    customer: c,
                    points,
                    reason,
                    actor,
                },
            )
            .await
            .into_status(DOMAIN)?;
        let (transaction, balance) = posted(&out);
        Ok(Response::new(pb::AdjustResponse {
            transaction,
            balance,
        }))
    }

    async fn transfer(&self, request: Request<pb::TransferRequest>) -> Reply<pb::TransferResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "Transfer",
            |r| r.request_id.clear(),
            &mut v,
        );
        let from = customer("from_customer", &req.from_customer, &mut v);
        let to = customer("to_customer", &req.to_customer, &mut v);
        if from.is_some() && from == to {
            v.add("to_customer", "must differ from from_customer");
        }
        let points = parse::points("points", req.points, self.limits(), &mut v);
        let reason = text("reason", &req.reason, 500, false, &mut v);
        let ((key, (from, to)), points) = parsed(v, key.zip(from.zip(to)).zip(points))?;
        let out = self
            .svc
            .transfer(&key, from, to, points, &reason)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::TransferResponse {
            debit: Some(convert::transaction(&out.debit)),
            credit: Some(convert::transaction(&out.credit)),
            from_balance: Some(convert::balance(&out.from_balance)),
        }))
    }

    async fn get_balance(&self, request: Request<pb::GetBalanceRequest>) -> Reply<pb::Balance> {
        let mut v = Violations::new();
        let c = customer("customer", &request.get_ref().customer, &mut v);
        let c = parsed(v, c)?;
        let b = self.svc.balance(c).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::balance(&b)))
    }

    async fn get_balance_at(
        &self,
        request: Request<pb::GetBalanceAtRequest>,
    ) -> Reply<pb::GetBalanceAtResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let c = customer("customer", &req.customer, &mut v);
        // Any time in the protobuf range (before the first transaction: zero); not later
        // than now plus the clock skew.
        let t = validate::required_timestamp("time", req.time.as_ref(), &mut v)
            .map(crate::domain::truncate)
            .filter(|t| validate::not_in_future("time", *t, crate::domain::now(), &mut v));
        let (c, t) = parsed(v, c.zip(t))?;
        let b = self.svc.balance_at(c, t).await.into_status(DOMAIN)?;
        Ok(Response::new(pb::GetBalanceAtResponse {
            customer: c.name(),
            time: Some(validate::to_timestamp(t)),
            wallet: b.wallet,
            held: b.held,
            sequence: b.sequence,
        }))
    }

    async fn list_transactions(
        &self,
        request: Request<pb::ListTransactionsRequest>,
    ) -> Reply<pb::ListTransactionsResponse> {
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
        let filter = TxFilter { start, end, kinds };
        let page = self
            .svc
            .list_transactions(c, &filter, size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::ListTransactionsResponse {
            transactions: page.items.iter().map(convert::transaction).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_tier(&self, request: Request<pb::GetTierRequest>) -> Reply<pb::TierStatus> {
        let mut v = Violations::new();
        let c = customer("customer", &request.get_ref().customer, &mut v);
        let c = parsed(v, c)?;
        let t = self.svc.tier(c).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::tier_status(&t)))
    }

    async fn list_tier_history(
        &self,
        request: Request<pb::ListTierHistoryRequest>,
    ) -> Reply<pb::ListTierHistoryResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let c = customer("customer", &req.customer, &mut v);
        let size = page_size(req.page_size, &mut v);
        let c = parsed(v, c)?;
        let page = self
            .svc
            .tier_history(c, size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::ListTierHistoryResponse {
            changes: page.items.iter().map(convert::tier_change).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn expire(&self, request: Request<pb::ExpireRequest>) -> Reply<pb::ExpireResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "Expire",
            |r| r.request_id.clear(),
            &mut v,
        );
        let c: Option<Option<CustomerId>> = if req.customer.is_empty() {
            Some(None)
        } else {
            customer("customer", &req.customer, &mut v).map(Some)
        };
        let (key, c) = parsed(v, key.zip(c))?;
        let out = self.svc.expire(&key, c).await.into_status(DOMAIN)?;
        Ok(Response::new(pb::ExpireResponse {
            expired_points: out.expired_points,
            expired_lots: out.expired_lots,
            expired_holds: out.expired_holds,
            customers: out.customers,
        }))
    }

    async fn verify_ledger(
        &self,
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
        let out = self.svc.verify(c).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::verification(&out)))
    }
}
