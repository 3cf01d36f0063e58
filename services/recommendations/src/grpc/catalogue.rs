//! Items, ImportItems and RecordInteractions. Filled in by the catalogue work.
#![allow(clippy::unused_async)]
use super::ImportItemsStream;
use super::Reply;
use crate::service::RecommendationService;
use crm_proto::recommendations as pb;
use tonic::Streaming;
use tonic::{Request, Status};

pub async fn import_items(
    svc: &RecommendationService,
    request: Request<Streaming<pb::ImportItemsRequest>>,
) -> Reply<ImportItemsStream> {
    let _ = (svc, request);
    Err(Status::unimplemented("ImportItems"))
}

pub async fn create_item(
    svc: &RecommendationService,
    request: Request<pb::CreateItemRequest>,
) -> Reply<pb::Item> {
    let _ = (svc, request);
    Err(Status::unimplemented("create_item"))
}

pub async fn get_item(
    svc: &RecommendationService,
    request: Request<pb::GetItemRequest>,
) -> Reply<pb::Item> {
    let _ = (svc, request);
    Err(Status::unimplemented("get_item"))
}

pub async fn list_items(
    svc: &RecommendationService,
    request: Request<pb::ListItemsRequest>,
) -> Reply<pb::ListItemsResponse> {
    let _ = (svc, request);
    Err(Status::unimplemented("list_items"))
}

pub async fn update_item(
    svc: &RecommendationService,
    request: Request<pb::UpdateItemRequest>,
) -> Reply<pb::Item> {
    let _ = (svc, request);
    Err(Status::unimplemented("update_item"))
}

pub async fn delete_item(
    svc: &RecommendationService,
    request: Request<pb::DeleteItemRequest>,
) -> Reply<()> {
    let _ = (svc, request);
    Err(Status::unimplemented("delete_item"))
}

pub async fn record_interactions(
    svc: &RecommendationService,
    request: Request<pb::RecordInteractionsRequest>,
) -> Reply<pb::RecordInteractionsResponse> {
    let _ = (svc, request);
    Err(Status::unimplemented("record_interactions"))
}
