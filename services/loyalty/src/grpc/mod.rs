//! The gRPC adapter: parses requests into domain types (every bad field reported at once),
//! calls [`LoyaltyService`], converts results back. No business rules live here. Each RPC
//! is answered by a function of the module of its aggregate: [`points`], [`holds`],
//! [`reads`].
mod convert;
mod holds;
pub(crate) mod parse;
mod points;
pub mod policy;
mod reads;

use crate::domain::Limits;
use crate::service::LoyaltyService;
use crm_proto::loyalty as pb;
use crm_proto::loyalty::loyalty_service_server::LoyaltyService as LoyaltyRpc;
use tonic::{Request, Response, Status};

pub use pb::loyalty_service_server::LoyaltyServiceServer;

pub struct LoyaltyGrpc {
    svc: LoyaltyService,
}

impl LoyaltyGrpc {
    pub fn new(svc: LoyaltyService) -> Self {
        Self { svc }
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// The bounds requests are checked against.
fn limits(svc: &LoyaltyService) -> &Limits {
    &svc.program().limits
}

#[tonic::async_trait]
impl LoyaltyRpc for LoyaltyGrpc {
    async fn get_program(&self, request: Request<pb::GetProgramRequest>) -> Reply<pb::Program> {
        reads::get_program(&self.svc, request).await
    }

    async fn earn(&self, request: Request<pb::EarnRequest>) -> Reply<pb::EarnResponse> {
        points::earn(&self.svc, request).await
    }

    async fn redeem(&self, request: Request<pb::RedeemRequest>) -> Reply<pb::RedeemResponse> {
        points::redeem(&self.svc, request).await
    }

    async fn hold(&self, request: Request<pb::HoldRequest>) -> Reply<pb::HoldResponse> {
        holds::hold(&self.svc, request).await
    }

    async fn capture_hold(
        &self,
        request: Request<pb::CaptureHoldRequest>,
    ) -> Reply<pb::HoldResponse> {
        holds::capture_hold(&self.svc, request).await
    }

    async fn release_hold(
        &self,
        request: Request<pb::ReleaseHoldRequest>,
    ) -> Reply<pb::HoldResponse> {
        holds::release_hold(&self.svc, request).await
    }

    async fn reverse(&self, request: Request<pb::ReverseRequest>) -> Reply<pb::ReverseResponse> {
        points::reverse(&self.svc, request).await
    }

    async fn adjust(&self, request: Request<pb::AdjustRequest>) -> Reply<pb::AdjustResponse> {
        points::adjust(&self.svc, request).await
    }

    async fn transfer(&self, request: Request<pb::TransferRequest>) -> Reply<pb::TransferResponse> {
        points::transfer(&self.svc, request).await
    }

    async fn get_balance(&self, request: Request<pb::GetBalanceRequest>) -> Reply<pb::Balance> {
        reads::get_balance(&self.svc, request).await
    }

    async fn get_balance_at(
        &self,
        request: Request<pb::GetBalanceAtRequest>,
    ) -> Reply<pb::GetBalanceAtResponse> {
        reads::get_balance_at(&self.svc, request).await
    }

    async fn list_transactions(
        &self,
        request: Request<pb::ListTransactionsRequest>,
    ) -> Reply<pb::ListTransactionsResponse> {
        reads::list_transactions(&self.svc, request).await
    }

    async fn get_tier(&self, request: Request<pb::GetTierRequest>) -> Reply<pb::TierStatus> {
        reads::get_tier(&self.svc, request).await
    }

    async fn list_tier_history(
        &self,
        request: Request<pb::ListTierHistoryRequest>,
    ) -> Reply<pb::ListTierHistoryResponse> {
        reads::list_tier_history(&self.svc, request).await
    }

    async fn expire(&self, request: Request<pb::ExpireRequest>) -> Reply<pb::ExpireResponse> {
        points::expire(&self.svc, request).await
    }

    async fn verify_ledger(
        &self,
        request: Request<pb::VerifyLedgerRequest>,
    ) -> Reply<pb::VerifyLedgerResponse> {
        reads::verify_ledger(&self.svc, request).await
    }

    async fn list_access_records(
        &self,
        request: Request<crm_proto::audit::ListAccessRecordsRequest>,
    ) -> Reply<crm_proto::audit::ListAccessRecordsResponse> {
        use crm_platform::grpc::IntoStatus as _;
        let domain = crate::error::DOMAIN;
        let req = crm_platform::audit::grpc::parse(request.into_inner(), domain)?;
        let page = self
            .svc
            .list_access(&req.filter, req.page_size, &req.page_token)
            .await
            .into_status(domain)?;
        Ok(Response::new(crm_platform::audit::grpc::response(page)))
    }
}
