//! The recommendation calls and RecordFeedback. Filled in by the serving work.
#![allow(clippy::unused_async)]
use super::Reply;
use crate::service::RecommendationService;
use crm_proto::recommendations as pb;
use tonic::{Request, Status};

pub async fn recommend_for_customer(
    svc: &RecommendationService,
    request: Request<pb::RecommendForCustomerRequest>,
) -> Reply<pb::RecommendForCustomerResponse> {
    let _ = (svc, request);
    Err(Status::unimplemented("recommend_for_customer"))
}

pub async fn similar_items(
    svc: &RecommendationService,
    request: Request<pb::SimilarItemsRequest>,
) -> Reply<pb::SimilarItemsResponse> {
    let _ = (svc, request);
    Err(Status::unimplemented("similar_items"))
}

pub async fn bought_together(
    svc: &RecommendationService,
    request: Request<pb::BoughtTogetherRequest>,
) -> Reply<pb::BoughtTogetherResponse> {
    let _ = (svc, request);
    Err(Status::unimplemented("bought_together"))
}

pub async fn popular_items(
    svc: &RecommendationService,
    request: Request<pb::PopularItemsRequest>,
) -> Reply<pb::PopularItemsResponse> {
    let _ = (svc, request);
    Err(Status::unimplemented("popular_items"))
}

pub async fn record_feedback(
    svc: &RecommendationService,
    request: Request<pb::RecordFeedbackRequest>,
) -> Reply<pb::RecordFeedbackResponse> {
    let _ = (svc, request);
    Err(Status::unimplemented("record_feedback"))
}
