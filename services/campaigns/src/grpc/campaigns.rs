//! The campaigns RPCs (stubs until their owner fills them).
use super::Reply;
use crate::service::CampaignService;
use crm_proto::campaigns as pb;
use tonic::{Request, Status};

pub async fn create_campaign(
    _svc: &CampaignService,
    _request: Request<pb::CreateCampaignRequest>,
) -> Reply<pb::Campaign> {
    Err(Status::unimplemented("create_campaign"))
}

pub async fn get_campaign(
    _svc: &CampaignService,
    _request: Request<pb::GetCampaignRequest>,
) -> Reply<pb::Campaign> {
    Err(Status::unimplemented("get_campaign"))
}

pub async fn list_campaigns(
    _svc: &CampaignService,
    _request: Request<pb::ListCampaignsRequest>,
) -> Reply<pb::ListCampaignsResponse> {
    Err(Status::unimplemented("list_campaigns"))
}

pub async fn update_campaign(
    _svc: &CampaignService,
    _request: Request<pb::UpdateCampaignRequest>,
) -> Reply<pb::Campaign> {
    Err(Status::unimplemented("update_campaign"))
}

pub async fn schedule_campaign(
    _svc: &CampaignService,
    _request: Request<pb::ScheduleCampaignRequest>,
) -> Reply<pb::Campaign> {
    Err(Status::unimplemented("schedule_campaign"))
}

pub async fn pause_campaign(
    _svc: &CampaignService,
    _request: Request<pb::PauseCampaignRequest>,
) -> Reply<pb::Campaign> {
    Err(Status::unimplemented("pause_campaign"))
}

pub async fn resume_campaign(
    _svc: &CampaignService,
    _request: Request<pb::ResumeCampaignRequest>,
) -> Reply<pb::Campaign> {
    Err(Status::unimplemented("resume_campaign"))
}

pub async fn cancel_campaign(
    _svc: &CampaignService,
    _request: Request<pb::CancelCampaignRequest>,
) -> Reply<pb::Campaign> {
    Err(Status::unimplemented("cancel_campaign"))
}

pub async fn list_deliveries(
    _svc: &CampaignService,
    _request: Request<pb::ListDeliveriesRequest>,
) -> Reply<pb::ListDeliveriesResponse> {
    Err(Status::unimplemented("list_deliveries"))
}

pub async fn explain_delivery(
    _svc: &CampaignService,
    _request: Request<pb::ExplainDeliveryRequest>,
) -> Reply<pb::DeliveryExplanation> {
    Err(Status::unimplemented("explain_delivery"))
}

pub async fn record_delivery_receipt(
    _svc: &CampaignService,
    _request: Request<pb::RecordDeliveryReceiptRequest>,
) -> Reply<pb::Delivery> {
    Err(Status::unimplemented("record_delivery_receipt"))
}
