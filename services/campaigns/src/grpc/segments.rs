//! The segments RPCs (stubs until their owner fills them).
use super::Reply;
use crate::service::CampaignService;
use crm_proto::campaigns as pb;
use tonic::{Request, Status};

pub async fn create_segment(
    _svc: &CampaignService,
    _request: Request<pb::CreateSegmentRequest>,
) -> Reply<pb::Segment> {
    Err(Status::unimplemented("create_segment"))
}

pub async fn get_segment(
    _svc: &CampaignService,
    _request: Request<pb::GetSegmentRequest>,
) -> Reply<pb::Segment> {
    Err(Status::unimplemented("get_segment"))
}

pub async fn list_segments(
    _svc: &CampaignService,
    _request: Request<pb::ListSegmentsRequest>,
) -> Reply<pb::ListSegmentsResponse> {
    Err(Status::unimplemented("list_segments"))
}

pub async fn update_segment(
    _svc: &CampaignService,
    _request: Request<pb::UpdateSegmentRequest>,
) -> Reply<pb::Segment> {
    Err(Status::unimplemented("update_segment"))
}

pub async fn delete_segment(
    _svc: &CampaignService,
    _request: Request<pb::DeleteSegmentRequest>,
) -> Reply<()> {
    Err(Status::unimplemented("delete_segment"))
}

pub async fn preview_segment(
    _svc: &CampaignService,
    _request: Request<pb::PreviewSegmentRequest>,
) -> Reply<pb::PreviewSegmentResponse> {
    Err(Status::unimplemented("preview_segment"))
}

pub async fn list_segment_members(
    _svc: &CampaignService,
    _request: Request<pb::ListSegmentMembersRequest>,
) -> Reply<pb::ListSegmentMembersResponse> {
    Err(Status::unimplemented("list_segment_members"))
}
