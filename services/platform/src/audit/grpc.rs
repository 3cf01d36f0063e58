//! `ListAccessRecords` on the wire, shared by every service that records accesses: the
//! request parsed (every bad field reported at once) and the page converted back.
use super::{AccessFilter, AccessRecord, Action};
use crate::Violations;
use crate::grpc::{page_size, parsed};
use crate::paging::Page;
use crate::validate::{opt_timestamp, to_timestamp};
use crm_proto::audit as pb;
use tonic::Status;

/// Longest subject filter (characters).
const MAX_SUBJECT_CHARS: usize = 256;

/// A parsed `ListAccessRecords` request.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub filter: AccessFilter,
    /// As asked (0: the service default); the service bounds it.
    pub page_size: u32,
    pub page_token: String,
}

/// The request parsed, or INVALID_ARGUMENT (errors carry `domain`) naming every bad field.
pub fn parse(req: pb::ListAccessRecordsRequest, domain: &str) -> Result<ListRequest, Status> {
    let mut v = Violations::new();
    let page_size = page_size(req.page_size, &mut v);
    let filter = filter(&req, &mut v);
    let filter = parsed(v, Some(filter), domain)?;
    Ok(ListRequest {
        filter,
        page_size,
        page_token: req.page_token,
    })
}

/// A page of records on the wire.
pub fn response(page: Page<AccessRecord>) -> pb::ListAccessRecordsResponse {
    pb::ListAccessRecordsResponse {
        access_records: page.items.iter().map(record).collect(),
        next_page_token: page.next_page_token,
    }
}

fn filter(req: &pb::ListAccessRecordsRequest, v: &mut Violations) -> AccessFilter {
    let customer = (!req.customer.is_empty())
        .then(|| {
            v.check(
                "customer",
                crate::ids::parse_name(&req.customer, "customers"),
            )
        })
        .flatten();
    let subject = (!req.subject.is_empty())
        .then(|| crate::validate::text("subject", &req.subject, MAX_SUBJECT_CHARS, false, v));
    let start = opt_timestamp("start_time", req.start_time.as_ref(), v);
    let end = opt_timestamp("end_time", req.end_time.as_ref(), v);
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        v.add("end_time", "must be after start_time");
    }
    AccessFilter {
        customer,
        subject,
        start,
        end,
    }
}

/// A record on the wire.
pub fn record(r: &AccessRecord) -> pb::AccessRecord {
    pb::AccessRecord {
        name: format!("accessRecords/{}", r.id),
        record_time: Some(to_timestamp(r.record_time)),
        subject: r.subject.clone(),
        method: r.method.clone(),
        resource: r.resource.clone(),
        customer: r
            .customer
            .map(|c| format!("customers/{c}"))
            .unwrap_or_default(),
        action: action(r.action) as i32,
        detail: r.detail.clone(),
    }
}

fn action(a: Action) -> pb::AccessAction {
    match a {
        Action::Read => pb::AccessAction::Read,
        Action::Export => pb::AccessAction::Export,
        Action::Erase => pb::AccessAction::Erase,
        Action::Merge => pb::AccessAction::Merge,
        Action::Adjust => pb::AccessAction::Adjust,
    }
}
