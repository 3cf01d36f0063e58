//! Duplicates and merging them.
use super::{Reply, convert, parse_name, parsed};
use crate::error::DOMAIN;
use crate::service::CustomersService;
use crm_platform::Violations;
use crm_platform::grpc::{IntoStatus, actor, page_size};
use crm_platform::request_key;
use crm_proto::customers as pb;
use tonic::{Request, Response};

pub(super) async fn find_duplicates(
    svc: &CustomersService,
    request: Request<pb::FindDuplicatesRequest>,
) -> Reply<pb::FindDuplicatesResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let id = parse_name("name", &req.name, &mut v);
    let size = page_size(req.page_size, &mut v);
    let id = parsed(v, id)?;
    let page = svc
        .find_duplicates(id, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    let candidates = page
        .items
        .iter()
        .map(|d| pb::DuplicateCandidate {
            customer: Some(convert::customer(&d.customer)),
            reasons: d.reasons.iter().map(|r| (*r).to_owned()).collect(),
            score: d.score,
        })
        .collect();
    Ok(Response::new(pb::FindDuplicatesResponse {
        candidates,
        next_page_token: page.next_page_token,
    }))
}

pub(super) async fn merge(
    svc: &CustomersService,
    request: Request<pb::MergeCustomersRequest>,
) -> Reply<pb::MergeCustomersResponse> {
    let meta_actor = actor(request.metadata());
    let req = request.into_inner();
    let mut v = Violations::new();
    let survivor = parse_name("survivor", &req.survivor, &mut v);
    let merged: Vec<_> = req
        .merged
        .iter()
        .enumerate()
        .filter_map(|(i, n)| parse_name(&format!("merged[{i}]"), n, &mut v))
        .collect();
    let key = if req.validate_only {
        None
    } else {
        request_key!(req, "MergeCustomers", &mut v)
    };
    let actor = convert::actor(&req.actor, meta_actor, &mut v);
    let survivor = parsed(v, survivor)?;
    let outcome = match key {
        Some(key) => svc.merge(&key, survivor, &merged, &actor).await,
        None => svc.preview_merge(survivor, &merged).await,
    }
    .into_status(DOMAIN)?;
    Ok(Response::new(pb::MergeCustomersResponse {
        survivor: Some(convert::customer(&outcome.survivor)),
        merged: outcome.merged.iter().map(|m| m.name()).collect(),
        moved_activities: outcome.moved_activities as i64,
        preview: outcome.preview,
    }))
}
