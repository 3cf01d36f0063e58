//! Data-protection requests: export, erase, and the bulk import stream.
use super::pii::{Reader, method};
use super::streams::{self, ReplyStream};
use super::{Reply, convert, parse_name, parsed};
use crate::domain::erasure;
use crate::error::DOMAIN;
use crate::service::CustomersService;
use crm_platform::Violations;
use crm_platform::audit::Action;
use crm_platform::grpc::{IntoStatus, actor};
use crm_platform::request_key;
use crm_platform::validate::to_timestamp;
use crm_proto::customers as pb;
use tonic::{Request, Response};

pub(super) async fn export(
    svc: &CustomersService,
    request: Request<pb::ExportCustomerRequest>,
) -> Reply<ReplyStream<pb::ExportCustomerResponse>> {
    let reader = Reader::of(&request, method!("ExportCustomer"));
    let mut v = Violations::new();
    let id = parse_name("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    // Fail before the stream starts when the customer does not exist.
    let c = svc.get(id).await.into_status(DOMAIN)?;
    // Recorded before the first message leaves (the export is of the survivor's data).
    let access = reader.access(Action::Export, id.name(), c.id);
    svc.access().record(access).await.into_status(DOMAIN)?;
    Ok(Response::new(streams::export(svc.clone(), id)))
}

pub(super) async fn erase(
    svc: &CustomersService,
    request: Request<pb::EraseCustomerRequest>,
) -> Reply<pb::Customer> {
    let reader = Reader::of(&request, method!("EraseCustomer"));
    let meta_actor = actor(request.metadata());
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "EraseCustomer", &mut v);
    let id = parse_name("name", &req.name, &mut v);
    let actor = convert::actor(&req.actor, meta_actor, &mut v);
    let (key, id) = parsed(v, key.zip(id))?;
    let access = reader.access(Action::Erase, id.name(), id);
    let c = svc
        .erase(&key, id, &actor, &access)
        .await
        .into_status(DOMAIN)?;
    // The tombstone holds no personal data: nothing to mask or record as a read.
    Ok(Response::new(reader.show(&c)))
}

pub(super) async fn erasure_status(
    svc: &CustomersService,
    request: Request<pb::GetErasureStatusRequest>,
) -> Reply<pb::ErasureStatus> {
    let mut v = Violations::new();
    let id = parse_name("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    let status = svc.erasure_status(id).await.into_status(DOMAIN)?;
    Ok(Response::new(erasure_status_of(&status)))
}

pub(super) fn erasure_status_of(s: &erasure::ErasureStatus) -> pb::ErasureStatus {
    pb::ErasureStatus {
        customer: s.erasure.customer.name(),
        erase_time: Some(to_timestamp(s.erasure.erase_time)),
        erasure_event_id: s
            .erasure
            .event_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        state: state_of(s.state()) as i32,
        services: s
            .services
            .iter()
            .map(|service| {
                let c = service.completion.as_ref();
                pb::ServiceErasure {
                    service: service.service.clone(),
                    state: state_of(service.state()) as i32,
                    complete_time: c.map(|c| to_timestamp(c.complete_time)),
                    scrubbed_records: c.map_or(0, |c| c.scrubbed_records),
                    completion_event_id: c.map(|c| c.event_id.to_string()).unwrap_or_default(),
                    erasure_event_id: c
                        .map(|c| c.erasure_event_id.to_string())
                        .unwrap_or_default(),
                }
            })
            .collect(),
    }
}

fn state_of(s: erasure::State) -> pb::ErasureState {
    match s {
        erasure::State::Pending => pb::ErasureState::Pending,
        erasure::State::Completed => pb::ErasureState::Completed,
    }
}

pub(super) async fn import(
    svc: &CustomersService,
    request: Request<tonic::Streaming<pb::ImportCustomersRequest>>,
) -> Reply<ReplyStream<pb::ImportCustomersResponse>> {
    Ok(Response::new(streams::import(
        svc.clone(),
        request.into_inner(),
    )))
}
