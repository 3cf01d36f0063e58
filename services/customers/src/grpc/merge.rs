//! Duplicates and merging them.
use super::pii::{Reader, method};
use super::{Reply, convert, parse_name, parsed};
use crate::error::DOMAIN;
use crate::service::CustomersService;
use crm_platform::Violations;
use crm_platform::audit::Action;
use crm_platform::grpc::{IntoStatus, actor, page_size};
use crm_platform::request_key;
use crm_proto::customers as pb;
use tonic::{Request, Response};

pub(super) async fn find_duplicates(
    svc: &CustomersService,
    request: Request<pb::FindDuplicatesRequest>,
) -> Reply<pb::FindDuplicatesResponse> {
    let reader = Reader::of(&request, method!("FindDuplicates"));
    let req = request.into_inner();
    let mut v = Violations::new();
    let id = parse_name("name", &req.name, &mut v);
    let size = page_size(req.page_size, &mut v);
    let id = parsed(v, id)?;
    let page = svc
        .find_duplicates(id, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    reader
        .record_reads(svc, page.items.iter().map(|d| &d.customer))
        .await?;
    let candidates = page
        .items
        .iter()
        .map(|d| pb::DuplicateCandidate {
            customer: Some(reader.show(&d.customer)),
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
    let reader = Reader::of(&request, method!("MergeCustomers"));
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
        Some(key) => {
            let access = reader
                .access(Action::Merge, survivor.name(), survivor)
                .detail(format!("merged={}", merged.len()));
            svc.merge(&key, survivor, &merged, &actor, &access).await
        }
        None => svc.preview_merge(survivor, &merged).await,
    }
    .into_status(DOMAIN)?;
    // The merge itself is recorded in its transaction; the answer is a read of the survivor.
    reader.record_reads(svc, [&outcome.survivor]).await?;
    Ok(Response::new(pb::MergeCustomersResponse {
        survivor: Some(reader.show(&outcome.survivor)),
        merged: outcome.merged.iter().map(|m| m.name()).collect(),
        moved_activities: outcome.moved_activities as i64,
        preview: outcome.preview,
    }))
}
