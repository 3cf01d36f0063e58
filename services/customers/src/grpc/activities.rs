//! Activities and the insights computed from them.
use super::pii::{Reader, may_see_pii, method};
use super::{Reply, convert, parse_name, parsed};
use crate::domain::CustomerId;
use crate::error::DOMAIN;
use crate::service::CustomersService;
use crm_platform::Violations;
use crm_platform::audit::Action;
use crm_platform::grpc::{IntoStatus, page_size};
use crm_platform::request_key;
use crm_platform::validate::opt_timestamp;
use crm_proto::customers as pb;
use tonic::{Request, Response};

/// An activity as this caller may see it (masked without `customers.pii.read`).
fn shown(reader: &Reader, a: &crate::domain::Activity) -> pb::Activity {
    let wire = convert::activity(a);
    if may_see_pii(reader.who(), a.customer) {
        wire
    } else {
        convert::masked_activity(wire)
    }
}

pub(super) async fn record(
    svc: &CustomersService,
    request: Request<pb::RecordActivityRequest>,
) -> Reply<pb::Activity> {
    let reader = Reader::of(&request, method!("RecordActivity"));
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "RecordActivity", &mut v);
    let id = parse_name("parent", &req.parent, &mut v);
    let mut av = Violations::new();
    let activity = match &req.activity {
        Some(a) => convert::activity_from_proto(
            a,
            id.unwrap_or(CustomerId(uuid::Uuid::nil())),
            svc.limits(),
            &mut av,
        ),
        None => {
            v.add("activity", "is required");
            None
        }
    };
    v.extend_prefixed("activity", av);
    let ((key, id), activity) = parsed(v, key.zip(id).zip(activity))?;
    let a = svc
        .record_activity(&key, id, activity)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(shown(&reader, &a)))
}

pub(super) async fn list(
    svc: &CustomersService,
    request: Request<pb::ListActivitiesRequest>,
) -> Reply<pb::ListActivitiesResponse> {
    let reader = Reader::of(&request, method!("ListActivities"));
    let req = request.into_inner();
    let mut v = Violations::new();
    let id = parse_name("parent", &req.parent, &mut v);
    let size = page_size(req.page_size, &mut v);
    let kind = convert::activity_kind(req.kind, "kind", &mut v);
    let start = opt_timestamp("start_time", req.start_time.as_ref(), &mut v);
    let end = opt_timestamp("end_time", req.end_time.as_ref(), &mut v);
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        v.add("end_time", "must be after start_time");
    }
    let id = parsed(v, id)?;
    let page = svc
        .list_activities(id, kind, start, end, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    // One record per page read: the activities are the customer's data.
    let record = reader.access(Action::Read, format!("{}/activities", id.name()), id);
    let record = if may_see_pii(reader.who(), id) {
        record
    } else {
        record.detail("masked")
    };
    svc.access().record(record).await.into_status(DOMAIN)?;
    Ok(Response::new(pb::ListActivitiesResponse {
        activities: page.items.iter().map(|a| shown(&reader, a)).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub(super) async fn insights(
    svc: &CustomersService,
    request: Request<pb::GetCustomerInsightsRequest>,
) -> Reply<pb::CustomerInsights> {
    let mut v = Violations::new();
    let id = parse_name("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    let report = svc.insights(id).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::insights(&report)))
}
