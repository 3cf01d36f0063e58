//! The gRPC adapter: parses requests into domain values (every bad field reported at once),
//! calls [`RecommendationService`], converts results back. No business rules live here.
//! One module per area: [`catalogue`] (items, import, interactions), [`serving`] (the
//! recommendation calls and feedback), [`model`] (GetModel, RebuildModel); conversions in
//! `convert` and `serving_convert`.
mod catalogue;
mod convert;
mod model;
pub mod policy;
mod serving;
mod serving_convert;

use crate::error::DOMAIN;
use crate::service::RecommendationService;
use crm_platform::Violations;
use crm_proto::recommendations as pb;
use tonic::{Request, Response, Status, Streaming};

pub use pb::recommendation_service_server::RecommendationServiceServer;

pub struct RecommendationsGrpc {
    svc: RecommendationService,
}

impl RecommendationsGrpc {
    pub fn new(svc: RecommendationService) -> Self {
        Self { svc }
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// The stream ImportItems answers with.
pub type ImportItemsStream = crm_platform::import_stream::ReplyStream<pb::ImportItemsResponse>;

/// The parsed value, or INVALID_ARGUMENT with every violation collected.
fn parsed<T>(v: Violations, value: Option<T>) -> Result<T, Status> {
    crm_platform::grpc::parsed(v, value, DOMAIN)
}

#[tonic::async_trait]
impl pb::recommendation_service_server::RecommendationService for RecommendationsGrpc {
    type ImportItemsStream = ImportItemsStream;

    async fn import_items(
        &self,
        request: Request<Streaming<pb::ImportItemsRequest>>,
    ) -> Reply<Self::ImportItemsStream> {
        catalogue::import_items(&self.svc, request).await
    }

    async fn create_item(&self, request: Request<pb::CreateItemRequest>) -> Reply<pb::Item> {
        catalogue::create_item(&self.svc, request).await
    }

    async fn get_item(&self, request: Request<pb::GetItemRequest>) -> Reply<pb::Item> {
        catalogue::get_item(&self.svc, request).await
    }

    async fn list_items(
        &self,
        request: Request<pb::ListItemsRequest>,
    ) -> Reply<pb::ListItemsResponse> {
        catalogue::list_items(&self.svc, request).await
    }

    async fn update_item(&self, request: Request<pb::UpdateItemRequest>) -> Reply<pb::Item> {
        catalogue::update_item(&self.svc, request).await
    }

    async fn delete_item(&self, request: Request<pb::DeleteItemRequest>) -> Reply<()> {
        catalogue::delete_item(&self.svc, request).await
    }

    async fn record_interactions(
        &self,
        request: Request<pb::RecordInteractionsRequest>,
    ) -> Reply<pb::RecordInteractionsResponse> {
        catalogue::record_interactions(&self.svc, request).await
    }

    async fn recommend_for_customer(
        &self,
        request: Request<pb::RecommendForCustomerRequest>,
    ) -> Reply<pb::RecommendForCustomerResponse> {
        serving::recommend_for_customer(&self.svc, request).await
    }

    async fn similar_items(
        &self,
        request: Request<pb::SimilarItemsRequest>,
    ) -> Reply<pb::SimilarItemsResponse> {
        serving::similar_items(&self.svc, request).await
    }

    async fn bought_together(
        &self,
        request: Request<pb::BoughtTogetherRequest>,
    ) -> Reply<pb::BoughtTogetherResponse> {
        serving::bought_together(&self.svc, request).await
    }

    async fn popular_items(
        &self,
        request: Request<pb::PopularItemsRequest>,
    ) -> Reply<pb::PopularItemsResponse> {
        serving::popular_items(&self.svc, request).await
    }

    async fn record_feedback(
        &self,
        request: Request<pb::RecordFeedbackRequest>,
    ) -> Reply<pb::RecordFeedbackResponse> {
        serving::record_feedback(&self.svc, request).await
    }

    async fn get_model(&self, request: Request<pb::GetModelRequest>) -> Reply<pb::Model> {
        model::get_model(&self.svc, request).await
    }

    async fn rebuild_model(&self, request: Request<pb::RebuildModelRequest>) -> Reply<pb::Model> {
        model::rebuild_model(&self.svc, request).await
    }
}
