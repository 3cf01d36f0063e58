//! Customer CRUD, lists and search.
use super::pii::{Reader, method};
use super::{Reply, convert, parse_name, parsed};
use crate::domain::listing::{ListOrder, list_order};
use crate::domain::{OrderField, Tag, UPDATABLE_FIELDS};
use crate::error::DOMAIN;
use crate::service::{CustomersService, ListFilter};
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
use crm_platform::grpc::{IntoStatus, actor, page_size};
use crm_platform::request_key;
use crm_platform::validate::opt_timestamp;
use crm_proto::customers as pb;
use tonic::{Request, Response};

pub(super) async fn create(
    svc: &CustomersService,
    request: Request<pb::CreateCustomerRequest>,
) -> Reply<pb::Customer> {
    let reader = Reader::of(&request, method!("CreateCustomer"));
    let actor = actor(request.metadata());
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "CreateCustomer", &mut v);
    let mut pv = Violations::new();
    let profile = req
        .customer
        .as_ref()
        .map(|c| convert::profile_from_proto(c, svc.limits(), &mut pv));
    if profile.is_none() {
        v.add("customer", "is required");
    }
    v.extend_prefixed("customer", pv);
    let (key, profile) = parsed(v, key.zip(profile))?;
    let c = svc
        .create(&key, profile, &actor)
        .await
        .into_status(DOMAIN)?;
    reader.record_reads(svc, [&c]).await?;
    Ok(Response::new(reader.show(&c)))
}

pub(super) async fn get(
    svc: &CustomersService,
    request: Request<pb::GetCustomerRequest>,
) -> Reply<pb::Customer> {
    let reader = Reader::of(&request, method!("GetCustomer"));
    let mut v = Violations::new();
    let id = parse_name("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    // On the id asked, before a merge resolves it to its survivor.
    reader.who().require_customer(id.0).into_status(DOMAIN)?;
    let c = svc.get(id).await.into_status(DOMAIN)?;
    reader.record_read(svc, &c, id).await?;
    Ok(Response::new(reader.show_as(&c, id)))
}

pub(super) async fn batch_get(
    svc: &CustomersService,
    request: Request<pb::BatchGetCustomersRequest>,
) -> Reply<pb::BatchGetCustomersResponse> {
    let reader = Reader::of(&request, method!("BatchGetCustomers"));
    let names = &request.get_ref().names;
    let mut v = Violations::new();
    if names.is_empty() {
        v.add("names", "is required");
    }
    if names.len() > 1000 {
        v.add("names", "at most 1000 names");
    }
    let ids: Vec<_> = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| parse_name(&format!("names[{i}]"), n, &mut v))
        .collect();
    let ids = parsed(v, Some(ids))?;
    let found = svc.batch_get(&ids).await.into_status(DOMAIN)?;
    reader.record_reads(svc, found.iter().map(|c| &**c)).await?;
    Ok(Response::new(pb::BatchGetCustomersResponse {
        customers: found.iter().map(|c| reader.show(c)).collect(),
    }))
}

pub(super) async fn list(
    svc: &CustomersService,
    request: Request<pb::ListCustomersRequest>,
) -> Reply<pb::ListCustomersResponse> {
    let reader = Reader::of(&request, method!("ListCustomers"));
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page_size(req.page_size, &mut v);
    let tag = (!req.tag.is_empty())
        .then(|| v.check("tag", Tag::parse(&req.tag)))
        .flatten();
    let lifecycle_stage = convert::lifecycle_stage(req.lifecycle_stage, "lifecycle_stage", &mut v);
    let updated_since = opt_timestamp("updated_since", req.updated_since.as_ref(), &mut v);
    let order = match list_order(order_by(&req.order_by, &mut v), updated_since.is_some()) {
        Ok(order) => order,
        Err(problem) => {
            v.add("order_by", problem);
            None
        }
    };
    let filter = ListFilter {
        tag: tag.map(|t| t.as_str().to_owned()),
        lifecycle_stage,
        updated_since,
        order,
        show_deleted: req.show_deleted,
    };
    let filter = parsed(v, Some(filter))?;
    let page = svc
        .list(&filter, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    reader.record_reads(svc, &page.items).await?;
    Ok(Response::new(pb::ListCustomersResponse {
        customers: page.items.iter().map(|c| reader.show(c)).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub(super) async fn update(
    svc: &CustomersService,
    request: Request<pb::UpdateCustomerRequest>,
) -> Reply<pb::Customer> {
    let reader = Reader::of(&request, method!("UpdateCustomer"));
    let actor = actor(request.metadata());
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "UpdateCustomer", &mut v);
    let paths = req
        .update_mask
        .as_ref()
        .map(|m| m.paths.clone())
        .unwrap_or_default();
    let mask = UpdateMask::parse(&paths, UPDATABLE_FIELDS, "update_mask", &mut v);
    let Some(c) = &req.customer else {
        v.add("customer", "is required");
        return parsed(v, None);
    };
    let id = parse_name("customer.name", &c.name, &mut v);
    let etag = convert::etag("customer.etag", &c.etag, &mut v);
    let mut pv = Violations::new();
    let patch = convert::profile_from_proto(c, svc.limits(), &mut pv);
    // Only masked fields are validated: an update may send a partial customer.
    let mut masked = Violations::new();
    if let Some(mask) = &mask {
        for x in pv.iter() {
            let top = x.field.split(['.', '[']).next().unwrap_or_default();
            if mask.contains(top) {
                masked.add(x.field.clone(), x.description.clone());
            }
        }
    }
    v.extend_prefixed("customer", masked);
    let ((key, id), mask) = parsed(v, key.zip(id).zip(mask))?;
    let c = svc
        .update(&key, id, patch, &mask, &etag, &actor)
        .await
        .into_status(DOMAIN)?;
    reader.record_reads(svc, [&c]).await?;
    Ok(Response::new(reader.show(&c)))
}

pub(super) async fn delete(
    svc: &CustomersService,
    request: Request<pb::DeleteCustomerRequest>,
) -> Reply<pb::Customer> {
    let reader = Reader::of(&request, method!("DeleteCustomer"));
    let actor = actor(request.metadata());
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "DeleteCustomer", &mut v);
    let id = parse_name("name", &req.name, &mut v);
    let etag = convert::etag("etag", &req.etag, &mut v);
    let (key, id) = parsed(v, key.zip(id))?;
    let c = svc
        .delete(&key, id, &etag, &actor)
        .await
        .into_status(DOMAIN)?;
    reader.record_reads(svc, [&c]).await?;
    Ok(Response::new(reader.show(&c)))
}

pub(super) async fn undelete(
    svc: &CustomersService,
    request: Request<pb::UndeleteCustomerRequest>,
) -> Reply<pb::Customer> {
    let reader = Reader::of(&request, method!("UndeleteCustomer"));
    let actor = actor(request.metadata());
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "UndeleteCustomer", &mut v);
    let id = parse_name("name", &req.name, &mut v);
    let (key, id) = parsed(v, key.zip(id))?;
    let c = svc.undelete(&key, id, &actor).await.into_status(DOMAIN)?;
    reader.record_reads(svc, [&c]).await?;
    Ok(Response::new(reader.show(&c)))
}

pub(super) async fn search(
    svc: &CustomersService,
    request: Request<pb::SearchCustomersRequest>,
) -> Reply<pb::SearchCustomersResponse> {
    let reader = Reader::of(&request, method!("SearchCustomers"));
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page_size(req.page_size, &mut v);
    let query = convert::search_query(req.query.as_ref(), &mut v);
    let query = parsed(v, query)?;
    let page = svc
        .search(&query, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    reader.record_reads(svc, &page.items).await?;
    Ok(Response::new(pb::SearchCustomersResponse {
        customers: page.items.iter().map(|c| reader.show(c)).collect(),
        next_page_token: page.next_page_token,
    }))
}

/// An `order_by` of a list: a field, optionally followed by `asc` or `desc`.
fn order_by(raw: &str, v: &mut Violations) -> Option<ListOrder> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let (field, desc) = match raw.split_whitespace().collect::<Vec<_>>().as_slice() {
        [f] => (*f, false),
        [f, d] if d.eq_ignore_ascii_case("desc") => (*f, true),
        [f, d] if d.eq_ignore_ascii_case("asc") => (*f, false),
        _ => ("", false),
    };
    let field = match field {
        "create_time" => OrderField::CreateTime,
        "update_time" => OrderField::UpdateTime,
        "display_name" => OrderField::DisplayName,
        _ => {
            v.add(
                "order_by",
                "must be create_time, update_time or display_name, optionally followed by desc",
            );
            return None;
        }
    };
    Some((field, desc))
}
