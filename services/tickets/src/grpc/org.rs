//! Teams, agents and macros.
use super::parse::{self, agent, etag, opt, page, parsed, team};
use super::{Reply, convert, update_mask};
use crate::domain::TeamId;
use crate::error::DOMAIN;
use crate::service::TicketsService;
use crm_platform::Violations;
use crm_platform::grpc::IntoStatus;
use crm_platform::request_key;
use crm_proto::tickets as pb;
use tonic::{Request, Response};

/// The fields UpdateTeam may change.
const TEAM_FIELDS: &[&str] = &[
    "display_name",
    "routing_strategy",
    "categories",
    "category_skills",
    "escalation_team",
];
/// The fields UpdateAgent may change.
const AGENT_FIELDS: &[&str] = &[
    "display_name",
    "email",
    "team",
    "skills",
    "max_open_tickets",
    "available",
];

pub async fn create_team(
    svc: &TicketsService,
    request: Request<pb::CreateTeamRequest>,
) -> Reply<pb::Team> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "CreateTeam", &mut v);
    let t = parse::new_team(req.team.as_ref(), &mut v);
    let (key, t) = parsed(v, key.zip(t))?;
    let out = svc.create_team(&key, t).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::team(&out)))
}

pub async fn get_team(
    svc: &TicketsService,
    request: Request<pb::GetTeamRequest>,
) -> Reply<pb::Team> {
    let mut v = Violations::new();
    let id = team("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    let t = svc.get_team(id).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::team(&t)))
}

pub async fn list_teams(
    svc: &TicketsService,
    request: Request<pb::ListTeamsRequest>,
) -> Reply<pb::ListTeamsResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page(req.page_size, &req.page_token, &mut v);
    parsed(v, Some(()))?;
    let page = svc
        .list_teams(size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListTeamsResponse {
        teams: page.items.iter().map(convert::team).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn update_team(
    svc: &TicketsService,
    request: Request<pb::UpdateTeamRequest>,
) -> Reply<pb::Team> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "UpdateTeam", &mut v);
    let t = parse::whole("team", req.team.as_ref(), &mut v);
    let id = team("team.name", &t.name, &mut v);
    etag("team.etag", &t.etag, &mut v);
    let mask = update_mask(req.update_mask.as_ref(), TEAM_FIELDS, &mut v);
    let p = mask.as_ref().map(|m| parse::team_patch(&t, m, &mut v));
    let ((key, id), p) = parsed(v, key.zip(id).zip(p))?;
    let out = svc
        .update_team(&key, id, &t.etag, p)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(convert::team(&out)))
}

pub async fn delete_team(
    svc: &TicketsService,
    request: Request<pb::DeleteTeamRequest>,
) -> Reply<()> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "DeleteTeam", &mut v);
    let id = team("name", &req.name, &mut v);
    etag("etag", &req.etag, &mut v);
    let (key, id) = parsed(v, key.zip(id))?;
    svc.delete_team(&key, id, &req.etag)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(()))
}

pub async fn create_agent(
    svc: &TicketsService,
    request: Request<pb::CreateAgentRequest>,
) -> Reply<pb::Agent> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "CreateAgent", &mut v);
    let a = parse::new_agent(req.agent.as_ref(), svc.limits(), &mut v);
    let (key, a) = parsed(v, key.zip(a))?;
    let out = svc.create_agent(&key, a).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::agent(&out)))
}

pub async fn get_agent(
    svc: &TicketsService,
    request: Request<pb::GetAgentRequest>,
) -> Reply<pb::Agent> {
    let mut v = Violations::new();
    let id = agent("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    let a = svc.get_agent(id).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::agent(&a)))
}

pub async fn list_agents(
    svc: &TicketsService,
    request: Request<pb::ListAgentsRequest>,
) -> Reply<pb::ListAgentsResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page(req.page_size, &req.page_token, &mut v);
    let t = opt("team", &req.team, TeamId::parse_name, &mut v);
    parsed(v, Some(()))?;
    let page = svc
        .list_agents(t, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListAgentsResponse {
        agents: page.items.iter().map(convert::agent).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn update_agent(
    svc: &TicketsService,
    request: Request<pb::UpdateAgentRequest>,
) -> Reply<pb::Agent> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "UpdateAgent", &mut v);
    let a = parse::whole("agent", req.agent.as_ref(), &mut v);
    let id = agent("agent.name", &a.name, &mut v);
    etag("agent.etag", &a.etag, &mut v);
    let mask = update_mask(req.update_mask.as_ref(), AGENT_FIELDS, &mut v);
    let limits = svc.limits();
    let p = mask
        .as_ref()
        .map(|m| parse::agent_patch(&a, m, limits, &mut v));
    let ((key, id), p) = parsed(v, key.zip(id).zip(p))?;
    let out = svc
        .update_agent(&key, id, &a.etag, p)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(convert::agent(&out)))
}

pub async fn delete_agent(
    svc: &TicketsService,
    request: Request<pb::DeleteAgentRequest>,
) -> Reply<()> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "DeleteAgent", &mut v);
    let id = agent("name", &req.name, &mut v);
    etag("etag", &req.etag, &mut v);
    let (key, id) = parsed(v, key.zip(id))?;
    svc.delete_agent(&key, id, &req.etag)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(()))
}

pub async fn create_macro(
    svc: &TicketsService,
    request: Request<pb::CreateMacroRequest>,
) -> Reply<pb::Macro> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "CreateMacro", &mut v);
    let m = parse::new_macro(req.r#macro.as_ref(), &mut v);
    let (key, m) = parsed(v, key.zip(m))?;
    let out = svc.create_macro(&key, m).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::macro_(&out)))
}

pub async fn get_macro(
    svc: &TicketsService,
    request: Request<pb::GetMacroRequest>,
) -> Reply<pb::Macro> {
    let mut v = Violations::new();
    let code = v.check(
        "name",
        crate::domain::parse_macro_name(&request.get_ref().name),
    );
    let code = parsed(v, code)?;
    let m = svc.get_macro(&code).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::macro_(&m)))
}

pub async fn list_macros(
    svc: &TicketsService,
    request: Request<pb::ListMacrosRequest>,
) -> Reply<pb::ListMacrosResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page(req.page_size, &req.page_token, &mut v);
    parsed(v, Some(()))?;
    let page = svc
        .list_macros(size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListMacrosResponse {
        macros: page.items.iter().map(convert::macro_).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn delete_macro(
    svc: &TicketsService,
    request: Request<pb::DeleteMacroRequest>,
) -> Reply<()> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "DeleteMacro", &mut v);
    let code = v.check("name", crate::domain::parse_macro_name(&req.name));
    let (key, code) = parsed(v, key.zip(code))?;
    svc.delete_macro(&key, &code).await.into_status(DOMAIN)?;
    Ok(Response::new(()))
}
