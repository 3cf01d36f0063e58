//! The members RPCs: a customer as the read model knows it, and its rebuild.
use super::{Reply, parsed};
use crate::domain::CustomerId;
use crate::domain::member::Member;
use crate::error::DOMAIN;
use crate::service::CampaignService;
use crm_platform::grpc::IntoStatus;
use crm_platform::validate::to_timestamp;
use crm_platform::{Violations, request_key};
use crm_proto::campaigns as pb;
use tonic::{Request, Response};

/// The member's wire form (no names or contact data: those stay sealed).
pub fn member(m: &Member) -> pb::Member {
    pb::Member {
        name: m.customer.member_name(),
        customer: m.customer.name(),
        language_code: m.language_code.clone(),
        time_zone: m.time_zone.clone(),
        tags: m.tags.clone(),
        lifecycle_stage: m.lifecycle_stage,
        tier: m.tier.clone(),
        available_points: m.available_points,
        order_count: m.order_count,
        last_purchase_time: m.last_purchase_time.map(to_timestamp),
        rfm_segment: m.rfm_segment.clone(),
        open_complaints: m.open_complaints,
        consented_channels: m.consented_channels.clone(),
        update_time: Some(to_timestamp(m.update_time)),
    }
}

/// The customer of `members/{customer}` in `field`, or a violation.
fn member_id(field: &str, name: &str, v: &mut Violations) -> Option<CustomerId> {
    if name.is_empty() {
        v.add(field, "is required");
        return None;
    }
    match CustomerId::parse_member_name(name) {
        Ok(id) => Some(id),
        Err(_) => {
            v.add(
                field,
                "must be members/{customer} with a customer id (a UUID)",
            );
            None
        }
    }
}

pub async fn get_member(
    svc: &CampaignService,
    request: Request<pb::GetMemberRequest>,
) -> Reply<pb::Member> {
    let mut v = Violations::new();
    let id = member_id("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    let m = svc.member(id).await.into_status(DOMAIN)?;
    Ok(Response::new(member(&m)))
}

pub async fn rebuild_read_model(
    svc: &CampaignService,
    request: Request<pb::RebuildReadModelRequest>,
) -> Reply<pb::RebuildReadModelResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "RebuildReadModel", &mut v);
    let key = parsed(v, key)?;
    let marked = svc.rebuild_read_model(&key).await.into_status(DOMAIN)?;
    Ok(Response::new(pb::RebuildReadModelResponse { marked }))
}
