//! The gRPC adapter: parses requests into domain types (every bad field reported at once),
//! calls [`CustomersService`], converts results back. No business rules live here. One file
//! per group of RPCs; this one routes the trait's methods to them.
mod activities;
pub(crate) mod convert;
mod customers;
mod gdpr;
mod merge;
pub mod pii;
pub mod policy;
mod streams;

use crate::domain::CustomerId;
use crate::error::DOMAIN;
use crate::service::CustomersService;
use crm_platform::Violations;
use crm_platform::grpc::IntoStatus;
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
        customers::create(&self.svc, request).await
    }

    async fn get_customer(&self, request: Request<pb::GetCustomerRequest>) -> Reply<pb::Customer> {
        customers::get(&self.svc, request).await
    }

    async fn batch_get_customers(
        &self,
        request: Request<pb::BatchGetCustomersRequest>,
    ) -> Reply<pb::BatchGetCustomersResponse> {
        customers::batch_get(&self.svc, request).await
    }

    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Reply<pb::ListCustomersResponse> {
        customers::list(&self.svc, request).await
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Reply<pb::Customer> {
        customers::update(&self.svc, request).await
    }

    async fn delete_customer(
        &self,
        request: Request<pb::DeleteCustomerRequest>,
    ) -> Reply<pb::Customer> {
        customers::delete(&self.svc, request).await
    }

    async fn undelete_customer(
        &self,
        request: Request<pb::UndeleteCustomerRequest>,
    ) -> Reply<pb::Customer> {
        customers::undelete(&self.svc, request).await
    }

    async fn search_customers(
        &self,
        request: Request<pb::SearchCustomersRequest>,
    ) -> Reply<pb::SearchCustomersResponse> {
        customers::search(&self.svc, request).await
    }

    async fn find_duplicates(
        &self,
        request: Request<pb::FindDuplicatesRequest>,
    ) -> Reply<pb::FindDuplicatesResponse> {
        merge::find_duplicates(&self.svc, request).await
    }

    async fn merge_customers(
        &self,
        request: Request<pb::MergeCustomersRequest>,
    ) -> Reply<pb::MergeCustomersResponse> {
        merge::merge(&self.svc, request).await
    }

    async fn record_activity(
        &self,
        request: Request<pb::RecordActivityRequest>,
    ) -> Reply<pb::Activity> {
        activities::record(&self.svc, request).await
    }

    async fn list_activities(
        &self,
        request: Request<pb::ListActivitiesRequest>,
    ) -> Reply<pb::ListActivitiesResponse> {
        activities::list(&self.svc, request).await
    }

    async fn get_customer_insights(
        &self,
        request: Request<pb::GetCustomerInsightsRequest>,
    ) -> Reply<pb::CustomerInsights> {
        activities::insights(&self.svc, request).await
    }

    type ExportCustomerStream = streams::ReplyStream<pb::ExportCustomerResponse>;

    async fn export_customer(
        &self,
        request: Request<pb::ExportCustomerRequest>,
    ) -> Reply<Self::ExportCustomerStream> {
        gdpr::export(&self.svc, request).await
    }

    async fn erase_customer(
        &self,
        request: Request<pb::EraseCustomerRequest>,
    ) -> Reply<pb::Customer> {
        gdpr::erase(&self.svc, request).await
    }

    async fn get_erasure_status(
        &self,
        request: Request<pb::GetErasureStatusRequest>,
    ) -> Reply<pb::ErasureStatus> {
        gdpr::erasure_status(&self.svc, request).await
    }

    type ImportCustomersStream = streams::ReplyStream<pb::ImportCustomersResponse>;

    async fn import_customers(
        &self,
        request: Request<tonic::Streaming<pb::ImportCustomersRequest>>,
    ) -> Reply<Self::ImportCustomersStream> {
        gdpr::import(&self.svc, request).await
    }

    async fn list_access_records(
        &self,
        request: Request<crm_proto::audit::ListAccessRecordsRequest>,
    ) -> Reply<crm_proto::audit::ListAccessRecordsResponse> {
        let req = crm_platform::audit::grpc::parse(request.into_inner(), DOMAIN)?;
        let page = self
            .svc
            .list_access(&req.filter, req.page_size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(crm_platform::audit::grpc::response(page)))
    }
}
