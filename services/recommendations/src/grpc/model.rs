//! GetModel and RebuildModel.
use super::{Reply, parsed};
use crate::error::DOMAIN;
use crate::service::RecommendationService;
use crate::service::rebuild::ModelState;
use crm_platform::Violations;
use crm_platform::grpc::IntoStatus;
use crm_platform::request_key;
use crm_platform::validate::to_timestamp;
use crm_proto::recommendations as pb;
use tonic::{Request, Response};

/// The model's resource name (there is one).
const NAME: &str = "model";

fn model(s: &ModelState) -> pb::Model {
    let pending_interaction_count = i64::try_from(s.pending_interactions).unwrap_or(i64::MAX);
    match &s.info {
        None => pb::Model {
            name: NAME.to_owned(),
            pending_interaction_count,
            ..pb::Model::default()
        },
        Some(i) => pb::Model {
            name: NAME.to_owned(),
            version: i.version,
            build_time: Some(to_timestamp(i.build_time)),
            build_duration_ms: i.build_duration_ms,
            interaction_count: i.interaction_count,
            customer_count: i.customer_count,
            item_count: i.item_count,
            similarity: i.similarity.as_str().to_owned(),
            pending_interaction_count,
        },
    }
}

pub async fn get_model(
    svc: &RecommendationService,
    request: Request<pb::GetModelRequest>,
) -> Reply<pb::Model> {
    let mut v = Violations::new();
    match request.get_ref().name.as_str() {
        NAME => {}
        "" => v.add("name", "is required"),
        _ => v.add("name", "must be \"model\""),
    }
    parsed(v, Some(()))?;
    let state = svc.model().await.into_status(DOMAIN)?;
    Ok(Response::new(model(&state)))
}

pub async fn rebuild_model(
    svc: &RecommendationService,
    request: Request<pb::RebuildModelRequest>,
) -> Reply<pb::Model> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "RebuildModel", &mut v);
    let key = parsed(v, key)?;
    let state = svc.rebuild_model(&key).await.into_status(DOMAIN)?;
    Ok(Response::new(model(&state)))
}
