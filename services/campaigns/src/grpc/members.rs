//! The members RPCs (stubs until their owner fills them).
use super::Reply;
use crate::service::CampaignService;
use crm_proto::campaigns as pb;
use tonic::{Request, Status};

pub async fn get_member(
    _svc: &CampaignService,
    _request: Request<pb::GetMemberRequest>,
) -> Reply<pb::Member> {
    Err(Status::unimplemented("get_member"))
}

pub async fn rebuild_read_model(
    _svc: &CampaignService,
    _request: Request<pb::RebuildReadModelRequest>,
) -> Reply<pb::RebuildReadModelResponse> {
    Err(Status::unimplemented("rebuild_read_model"))
}
