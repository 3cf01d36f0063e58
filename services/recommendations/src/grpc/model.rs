//! GetModel and RebuildModel. Filled in by the rebuild work.
#![allow(clippy::unused_async)]
use super::Reply;
use crate::service::RecommendationService;
use crm_proto::recommendations as pb;
use tonic::{Request, Status};

pub async fn get_model(
    svc: &RecommendationService,
    request: Request<pb::GetModelRequest>,
) -> Reply<pb::Model> {
    let _ = (svc, request);
    Err(Status::unimplemented("get_model"))
}

pub async fn rebuild_model(
    svc: &RecommendationService,
    request: Request<pb::RebuildModelRequest>,
) -> Reply<pb::Model> {
    let _ = (svc, request);
    Err(Status::unimplemented("rebuild_model"))
}
