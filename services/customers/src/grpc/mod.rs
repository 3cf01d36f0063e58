//! The gRPC adapter: parses requests into domain types (every bad field reported at once),
//! calls [`CustomersService`], converts results back. No business rules live here.
mod convert;
mod streams;

use crate::domain::{CustomerId, UPDATABLE_FIELDS};
use crate::error::DOMAIN;
use crate::service::{CustomersService, ListFilter};
use crate::store::customers::OrderField;
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
use crm_platform::grpc::{IntoStatus, actor, idempotency_key, page_size};
use crm_proto::customers as pb;
use crm_proto::customers::customer_service_server::CustomerService;
use tonic::{Request, Response, Status};

pub use pb::customer_service_server::CustomerServiceServer;

pub struct CustomersGrpc {
    svc: CustomersService,
}

impl CustomersGrpc {
    pub fn new(svc: CustomersService) -> Self {
        Self { svc }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn parse_name(field: &str, name: &str, v: &mut Violations) -> Option<CustomerId> {
    v.check(field, CustomerId::parse_name(name))
}

fn order_by(raw: &str, v: &mut Violations) -> Option<(OrderField, bool)> {
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

/// The parsed value, or INVALID_ARGUMENT with every violation collected.
fn parsed<T>(v: Violations, value: Option<T>) -> Result<T, Status> {
    crm_platform::grpc::parsed(v, value, DOMAIN)
}

#[tonic::async_trait]
impl CustomerService for CustomersGrpc {
    async fn create_customer(
        &self,
        request: Request<pb::CreateCustomerRequest>,
    ) -> Reply<pb::Customer> {
        let actor = actor(request.metadata());
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "CreateCustomer",
            |r| r.request_id.clear(),
            &mut v,
        );
        let mut pv = Violations::new();
        let profile = req
            .customer
            .as_ref()
            .map(|c| convert::profile_from_proto(c, self.svc.limits(), &mut pv));
        if profile.is_none() {
            v.add("customer", "is required");
        }
        v.extend_prefixed("customer", pv);
        let (key, profile) = parsed(v, key.zip(profile))?;
        let c = self
            .svc
            .create(&key, profile, &actor)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::customer(&c)))
    }

    async fn get_customer(&self, request: Request<pb::GetCustomerRequest>) -> Reply<pb::Customer> {
        let mut v = Violations::new();
        let id = parse_name("name", &request.get_ref().name, &mut v);
        let id = parsed(v, id)?;
        let c = self.svc.get(id).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::customer(&c)))
    }

    async fn batch_get_customers(
        &self,
        request: Request<pb::BatchGetCustomersRequest>,
    ) -> Reply<pb::BatchGetCustomersResponse> {
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
        let found = self.svc.batch_get(&ids).await.into_status(DOMAIN)?;
        Ok(Response::new(pb::BatchGetCustomersResponse {
            customers: found.iter().map(|c| convert::customer(c)).collect(),
        }))
    }

    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Reply<pb::ListCustomersResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let size = page_size(req.page_size, &mut v);
        let tag = (!req.tag.is_empty())
            .then(|| v.check("tag", crate::domain::Tag::parse(&req.tag)))
            .flatten();
        let filter = ListFilter {
            tag: tag.map(|t| t.as_str().to_owned()),
            lifecycle_stage: convert::lifecycle_stage(
                req.lifecycle_stage,
                "lifecycle_stage",
                &mut v,
            ),
            updated_since: convert::opt_time(req.updated_since.as_ref(), "updated_since", &mut v),
            order: order_by(&req.order_by, &mut v),
            show_deleted: req.show_deleted,
        };
        // An incremental read is a range of the update-time order; in any other order it
        // would walk the table to find the recent rows.
        let mut filter = filter;
        if filter.updated_since.is_some() {
            match filter.order {
                None => filter.order = Some((OrderField::UpdateTime, false)),
                Some((OrderField::UpdateTime, _)) => {}
                Some(_) => v.add(
                    "order_by",
                    "must be update_time (or update_time desc) with updated_since",
                ),
            }
        }
        let filter = parsed(v, Some(filter))?;
        let page = self
            .svc
            .list(&filter, size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::ListCustomersResponse {
            customers: page.items.iter().map(convert::customer).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Reply<pb::Customer> {
        let actor = actor(request.metadata());
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "UpdateCustomer",
            |r| r.request_id.clear(),
            &mut v,
        );
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
        let patch = convert::profile_from_proto(c, self.svc.limits(), &mut pv);
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
        let c = self
            .svc
            .update(&key, id, patch, &mask, &etag, &actor)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::customer(&c)))
    }

    async fn delete_customer(
        &self,
        request: Request<pb::DeleteCustomerRequest>,
    ) -> Reply<pb::Customer> {
        let actor = actor(request.metadata());
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "DeleteCustomer",
            |r| r.request_id.clear(),
            &mut v,
        );
        let id = parse_name("name", &req.name, &mut v);
        let etag = convert::etag("etag", &req.etag, &mut v);
        let (key, id) = parsed(v, key.zip(id))?;
        let c = self
            .svc
            .delete(&key, id, &etag, &actor)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::customer(&c)))
    }

    async fn undelete_customer(
        &self,
        request: Request<pb::UndeleteCustomerRequest>,
    ) -> Reply<pb::Customer> {
        let actor = actor(request.metadata());
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "UndeleteCustomer",
            |r| r.request_id.clear(),
            &mut v,
        );
        let id = parse_name("name", &req.name, &mut v);
        let (key, id) = parsed(v, key.zip(id))?;
        let c = self
            .svc
            .undelete(&key, id, &actor)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::customer(&c)))
    }

    async fn search_customers(
        &self,
        request: Request<pb::SearchCustomersRequest>,
    ) -> Reply<pb::SearchCustomersResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let size = page_size(req.page_size, &mut v);
        let query = convert::search_query(req.query.as_ref(), &mut v);
        let query = parsed(v, query)?;
        let page = self
            .svc
            .search(&query, size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::SearchCustomersResponse {
            customers: page.items.iter().map(convert::customer).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn find_duplicates(
        &self,
        request: Request<pb::FindDuplicatesRequest>,
    ) -> Reply<pb::FindDuplicatesResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = parse_name("name", &req.name, &mut v);
        let size = page_size(req.page_size, &mut v);
        let id = parsed(v, id)?;
        let page = self
            .svc
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

    async fn merge_customers(
        &self,
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
            idempotency_key(
                &req,
                &req.request_id,
                "MergeCustomers",
                |r| r.request_id.clear(),
                &mut v,
            )
        };
        let actor = convert::actor(&req.actor, meta_actor, &mut v);
        let survivor = parsed(v, survivor)?;
        let outcome = match key {
            Some(key) => self.svc.merge(&key, survivor, &merged, &actor).await,
            None => self.svc.preview_merge(survivor, &merged).await,
        }
        .into_status(DOMAIN)?;
        Ok(Response::new(pb::MergeCustomersResponse {
            survivor: Some(convert::customer(&outcome.survivor)),
            merged: outcome.merged.iter().map(|m| m.name()).collect(),
            moved_activities: outcome.moved_activities as i64,
            preview: outcome.preview,
        }))
    }

    async fn record_activity(
        &self,
        request: Request<pb::RecordActivityRequest>,
    ) -> Reply<pb::Activity> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "RecordActivity",
            |r| r.request_id.clear(),
            &mut v,
        );
        let id = parse_name("parent", &req.parent, &mut v);
        let mut av = Violations::new();
        let activity = match &req.activity {
            Some(a) => convert::activity_from_proto(
                a,
                id.unwrap_or(CustomerId(uuid::Uuid::nil())),
                self.svc.limits(),
                &mut av,
            ),
            None => {
                v.add("activity", "is required");
                None
            }
        };
        v.extend_prefixed("activity", av);
        let ((key, id), activity) = parsed(v, key.zip(id).zip(activity))?;
        let a = self
            .svc
            .record_activity(&key, id, activity)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::activity(&a)))
    }

    async fn list_activities(
        &self,
        request: Request<pb::ListActivitiesRequest>,
    ) -> Reply<pb::ListActivitiesResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = parse_name("parent", &req.parent, &mut v);
        let size = page_size(req.page_size, &mut v);
        let kind = convert::activity_kind(req.kind, "kind", &mut v);
        let start = convert::opt_time(req.start_time.as_ref(), "start_time", &mut v);
        let end = convert::opt_time(req.end_time.as_ref(), "end_time", &mut v);
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            v.add("end_time", "must be after start_time");
        }
        let id = parsed(v, id)?;
        let page = self
            .svc
            .list_activities(id, kind, start, end, size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::ListActivitiesResponse {
            activities: page.items.iter().map(convert::activity).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_customer_insights(
        &self,
        request: Request<pb::GetCustomerInsightsRequest>,
    ) -> Reply<pb::CustomerInsights> {
        let mut v = Violations::new();
        let id = parse_name("name", &request.get_ref().name, &mut v);
        let id = parsed(v, id)?;
        let report = self.svc.insights(id).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::insights(&report)))
    }

    type ExportCustomerStream = streams::ReplyStream<pb::ExportCustomerResponse>;

    async fn export_customer(
        &self,
        request: Request<pb::ExportCustomerRequest>,
    ) -> Reply<Self::ExportCustomerStream> {
        let mut v = Violations::new();
        let id = parse_name("name", &request.get_ref().name, &mut v);
        let id = parsed(v, id)?;
        // Fail before the stream starts when the customer does not exist.
        self.svc.get(id).await.into_status(DOMAIN)?;
        Ok(Response::new(streams::export(self.svc.clone(), id)))
    }

    async fn erase_customer(
        &self,
        request: Request<pb::EraseCustomerRequest>,
    ) -> Reply<pb::Customer> {
        let meta_actor = actor(request.metadata());
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "EraseCustomer",
            |r| r.request_id.clear(),
            &mut v,
        );
        let id = parse_name("name", &req.name, &mut v);
        let actor = convert::actor(&req.actor, meta_actor, &mut v);
        let (key, id) = parsed(v, key.zip(id))?;
        let c = self.svc.erase(&key, id, &actor).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::customer(&c)))
    }

    type ImportCustomersStream = streams::ReplyStream<pb::ImportCustomersResponse>;

    async fn import_customers(
        &self,
        request: Request<tonic::Streaming<pb::ImportCustomersRequest>>,
    ) -> Reply<Self::ImportCustomersStream> {
        Ok(Response::new(streams::import(
            self.svc.clone(),
            request.into_inner(),
        )))
    }
}
