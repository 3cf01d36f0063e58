//! GetCampaignReport. H2.
use super::Reply;
use crate::service::CampaignService;
use crm_proto::campaigns as pb;
use tonic::{Request, Status};

pub async fn get_campaign_report(
    svc: &CampaignService,
    request: Request<pb::GetCampaignReportRequest>,
) -> Reply<pb::CampaignReport> {
    let _ = (svc, request);
    Err(Status::unimplemented("H2"))
}
