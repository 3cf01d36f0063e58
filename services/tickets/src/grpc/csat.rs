//! Satisfaction surveys.
use super::parse::{self, parsed, ticket};
use super::{Reply, convert};
use crate::error::DOMAIN;
use crate::service::TicketsService;
use crm_platform::Violations;
use crm_platform::grpc::IntoStatus;
use crm_platform::request_key;
use crm_proto::tickets as pb;
use tonic::{Request, Response};

pub async fn submit_satisfaction(
    svc: &TicketsService,
    request: Request<pb::SubmitSatisfactionRequest>,
) -> Reply<pb::Satisfaction> {
    let owner = super::owner(&request);
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "SubmitSatisfaction", &mut v);
    let id = ticket("name", &req.name, &mut v);
    parse::survey_token(&req.survey_token, &mut v);
    let s = parse::satisfaction(id, req.satisfaction.as_ref(), &mut v);
    let (key, s) = parsed(v, key.zip(s))?;
    svc.require_owner(s.ticket, owner)
        .await
        .into_status(DOMAIN)?;
    let out = svc
        .submit_satisfaction(&key, s.ticket, &req.survey_token, s)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(convert::satisfaction(&out)))
}
