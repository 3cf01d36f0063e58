//! The segments RPCs: parse (every bad field at once), call the use case, convert back.
/// Segment conversions (members convert in `members`).
pub(super) mod convert;

use super::{Reply, parsed, sent_etag};
use crate::domain::SegmentId;
use crate::domain::segment::UPDATABLE_FIELDS;
use crate::error::DOMAIN;
use crate::service::CampaignService;
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
use crm_platform::grpc::{IntoStatus, page_size};
use crm_platform::request_key;
use crm_proto::campaigns as pb;
use tonic::{Request, Response};

fn segment_id(field: &str, name: &str, v: &mut Violations) -> Option<SegmentId> {
    v.check(field, SegmentId::parse_name(name))
}

pub async fn create_segment(
    svc: &CampaignService,
    request: Request<pb::CreateSegmentRequest>,
) -> Reply<pb::Segment> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "CreateSegment", &mut v);
    let fields = match &req.segment {
        Some(s) => convert::segment_fields(s, &svc.settings().segments, None, &mut v),
        None => {
            v.add("segment", "is required");
            None
        }
    };
    let (key, fields) = parsed(v, key.zip(fields))?;
    let s = svc.create_segment(&key, fields).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::segment(&s)))
}

pub async fn get_segment(
    svc: &CampaignService,
    request: Request<pb::GetSegmentRequest>,
) -> Reply<pb::Segment> {
    let mut v = Violations::new();
    let id = segment_id("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    let s = svc.get_segment(id).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::segment(&s)))
}

pub async fn list_segments(
    svc: &CampaignService,
    request: Request<pb::ListSegmentsRequest>,
) -> Reply<pb::ListSegmentsResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page_size(req.page_size, &mut v);
    let size = parsed(v, Some(size))?;
    let page = svc
        .list_segments(size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListSegmentsResponse {
        segments: page.items.iter().map(convert::segment).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn update_segment(
    svc: &CampaignService,
    request: Request<pb::UpdateSegmentRequest>,
) -> Reply<pb::Segment> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "UpdateSegment", &mut v);
    let mask = UpdateMask::of_request(req.update_mask.as_ref(), UPDATABLE_FIELDS, &mut v);
    let Some(s) = &req.segment else {
        v.add("segment", "is required");
        return parsed(v, None);
    };
    let id = segment_id("segment.name", &s.name, &mut v);
    let etag = sent_etag("segment.etag", &s.etag, &mut v);
    // Only the fields the mask names are checked: an update may send a partial segment.
    let patch = mask
        .as_ref()
        .and_then(|m| convert::segment_fields(s, &svc.settings().segments, Some(m), &mut v));
    let ((key, id), (mask, patch)) = parsed(v, key.zip(id).zip(mask.zip(patch)))?;
    let s = svc
        .update_segment(&key, id, patch, &mask, &etag)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(convert::segment(&s)))
}

pub async fn delete_segment(
    svc: &CampaignService,
    request: Request<pb::DeleteSegmentRequest>,
) -> Reply<()> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "DeleteSegment", &mut v);
    let id = segment_id("name", &req.name, &mut v);
    let etag = sent_etag("etag", &req.etag, &mut v);
    let (key, id) = parsed(v, key.zip(id))?;
    svc.delete_segment(&key, id, &etag)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(()))
}

pub async fn preview_segment(
    svc: &CampaignService,
    request: Request<pb::PreviewSegmentRequest>,
) -> Reply<pb::PreviewSegmentResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page_size(req.page_size, &mut v);
    let rule = convert::rule(req.rule.as_ref(), "rule", &svc.settings().segments, &mut v);
    let rule = parsed(v, rule)?;
    let (count, members) = svc.preview_segment(&rule, size).await.into_status(DOMAIN)?;
    Ok(Response::new(pb::PreviewSegmentResponse {
        member_count: i64::try_from(count).unwrap_or(i64::MAX),
        members: members.iter().map(super::members::member).collect(),
    }))
}

pub async fn list_segment_members(
    svc: &CampaignService,
    request: Request<pb::ListSegmentMembersRequest>,
) -> Reply<pb::ListSegmentMembersResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let id = segment_id("segment", &req.segment, &mut v);
    let size = page_size(req.page_size, &mut v);
    let id = parsed(v, id)?;
    let page = svc
        .list_segment_members(id, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListSegmentMembersResponse {
        members: page.items.iter().map(super::members::member).collect(),
        next_page_token: page.next_page_token,
    }))
}
