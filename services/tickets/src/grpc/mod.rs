//! The gRPC adapter: parses requests into domain types (every bad field reported at once,
//! in [`parse`]), calls [`TicketsService`], converts results back ([`convert`]). No business
//! rules live here.
mod convert;
mod parse;

use crate::domain::{AgentId, TeamId};
use crate::error::DOMAIN;
use crate::service::{Assign, TicketsService};
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
use crm_platform::grpc::{IntoStatus, idempotency_key};
use crm_platform::validate::{self, max_items};
use crm_proto::tickets as pb;
use crm_proto::tickets::ticket_service_server::TicketService as TicketRpc;
use parse::{agent, etag, opt, page, parsed, required_enum, team, ticket};
use tonic::{Request, Response, Status};

pub use pb::ticket_service_server::TicketServiceServer;

pub struct TicketsGrpc {
    svc: TicketsService,
}

impl TicketsGrpc {
    pub fn new(svc: TicketsService) -> Self {
        Self { svc }
    }
}

type Reply<T> = Result<Response<T>, Status>;

const TICKET_FIELDS: &[&str] = &[
    "category",
    "priority",
    "subject",
    "description",
    "tags",
    "order_id",
    "booking_id",
];
const TEAM_FIELDS: &[&str] = &[
    "display_name",
    "routing_strategy",
    "categories",
    "category_skills",
    "escalation_team",
];
const AGENT_FIELDS: &[&str] = &[
    "display_name",
    "email",
    "team",
    "skills",
    "max_open_tickets",
    "available",
];

fn update_mask(
    m: Option<&prost_types::FieldMask>,
    allowed: &[&str],
    v: &mut Violations,
) -> Option<UpdateMask> {
    let paths = m.map(|m| m.paths.clone()).unwrap_or_default();
    // Bounded before the paths are looked at (and quoted in violations).
    if !max_items("update_mask.paths", paths.len(), allowed.len() + 1, v) {
        return None;
    }
    let mut fine = true;
    for (i, p) in paths.iter().enumerate() {
        let mut one = Violations::new();
        validate::text(&format!("update_mask.paths[{i}]"), p, 64, true, &mut one);
        for x in one.iter() {
            v.add(x.field.clone(), x.description.clone());
            fine = false;
        }
    }
    if !fine {
        return None;
    }
    UpdateMask::parse(&paths, allowed, "update_mask", v)
}

#[tonic::async_trait]
impl TicketRpc for TicketsGrpc {
    async fn create_ticket(&self, request: Request<pb::CreateTicketRequest>) -> Reply<pb::Ticket> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "CreateTicket",
            |r| r.request_id.clear(),
            &mut v,
        );
        let new = parse::new_ticket(req.ticket.as_ref(), self.svc.limits(), &mut v);
        let (key, new) = parsed(v, key.zip(new))?;
        let out = self
            .svc
            .create_ticket(&key, new)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::ticket(&out)))
    }

    async fn get_ticket(&self, request: Request<pb::GetTicketRequest>) -> Reply<pb::Ticket> {
        let mut v = Violations::new();
        let id = ticket("name", &request.get_ref().name, &mut v);
        let id = parsed(v, id)?;
        let t = self.svc.get_ticket(id).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::ticket(&t)))
    }

    async fn list_tickets(
        &self,
        request: Request<pb::ListTicketsRequest>,
    ) -> Reply<pb::ListTicketsResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let size = page(req.page_size, &req.page_token, &mut v);
        let q = parse::ticket_query(&req, &mut v);
        let q = parsed(v, Some(q))?;
        let page = self
            .svc
            .list_tickets(&q, size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::ListTicketsResponse {
            tickets: page.items.iter().map(convert::ticket).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_ticket(&self, request: Request<pb::UpdateTicketRequest>) -> Reply<pb::Ticket> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "UpdateTicket",
            |r| r.request_id.clear(),
            &mut v,
        );
        let t = req.ticket.clone().unwrap_or_default();
        if req.ticket.is_none() {
            v.add("ticket", "is required");
        }
        let id = ticket("ticket.name", &t.name, &mut v);
        etag("ticket.etag", &t.etag, &mut v);
        let mask = update_mask(req.update_mask.as_ref(), TICKET_FIELDS, &mut v);
        let limits = self.svc.limits();
        let p = mask
            .as_ref()
            .map(|m| parse::ticket_patch(&t, m, limits, &mut v));
        let ((key, id), p) = parsed(v, key.zip(id).zip(p))?;
        let out = self
            .svc
            .update_ticket(&key, id, &t.etag, p)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::ticket(&out)))
    }

    async fn add_message(&self, request: Request<pb::AddMessageRequest>) -> Reply<pb::Message> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "AddMessage",
            |r| r.request_id.clear(),
            &mut v,
        );
        let id = ticket("parent", &req.parent, &mut v);
        let m = parse::new_message(req.message.as_ref(), self.svc.limits(), &mut v);
        let (key, (id, m)) = parsed(v, key.zip(id.zip(m)))?;
        let out = self
            .svc
            .add_message(&key, id, m)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::message(&out)))
    }

    async fn list_messages(
        &self,
        request: Request<pb::ListMessagesRequest>,
    ) -> Reply<pb::ListMessagesResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = ticket("parent", &req.parent, &mut v);
        let size = page(req.page_size, &req.page_token, &mut v);
        let id = parsed(v, id)?;
        let page = self
            .svc
            .list_messages(id, req.public_only, size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::ListMessagesResponse {
            messages: page.items.iter().map(convert::message).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn change_status(&self, request: Request<pb::ChangeStatusRequest>) -> Reply<pb::Ticket> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "ChangeStatus",
            |r| r.request_id.clear(),
            &mut v,
        );
        let id = ticket("name", &req.name, &mut v);
        let to = required_enum("status", req.status, &mut v);
        etag("etag", &req.etag, &mut v);
        let ((key, id), to) = parsed(v, key.zip(id).zip(to))?;
        let out = self
            .svc
            .change_status(&key, id, to, &req.etag)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::ticket(&out)))
    }

    async fn assign_ticket(&self, request: Request<pb::AssignTicketRequest>) -> Reply<pb::Ticket> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "AssignTicket",
            |r| r.request_id.clear(),
            &mut v,
        );
        let id = ticket("name", &req.name, &mut v);
        let t = opt("team", &req.team, TeamId::parse_name, &mut v);
        let a = opt("agent", &req.agent, AgentId::parse_name, &mut v);
        etag("etag", &req.etag, &mut v);
        let how = match (a, t) {
            (Some(a), t) => Assign::Agent(a, t),
            (None, Some(t)) => Assign::Team(t),
            (None, None) => Assign::Reroute,
        };
        let (key, id) = parsed(v, key.zip(id))?;
        let out = self
            .svc
            .assign(&key, id, how, &req.etag)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::ticket(&out)))
    }

    async fn merge_tickets(&self, request: Request<pb::MergeTicketsRequest>) -> Reply<pb::Ticket> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "MergeTickets",
            |r| r.request_id.clear(),
            &mut v,
        );
        let target = ticket("name", &req.name, &mut v);
        let source = ticket("source", &req.source, &mut v);
        if target.is_some() && target == source {
            v.add("source", "must differ from name");
        }
        let (key, (target, source)) = parsed(v, key.zip(target.zip(source)))?;
        let out = self
            .svc
            .merge(&key, target, source)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::ticket(&out)))
    }

    async fn apply_macro(&self, request: Request<pb::ApplyMacroRequest>) -> Reply<pb::Message> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "ApplyMacro",
            |r| r.request_id.clear(),
            &mut v,
        );
        let id = ticket("name", &req.name, &mut v);
        let code = v.check("macro", crate::domain::parse_macro_name(&req.r#macro));
        let a = agent("agent", &req.agent, &mut v);
        let ((key, id), (code, a)) = parsed(v, key.zip(id).zip(code.zip(a)))?;
        let out = self
            .svc
            .apply_macro(&key, id, &code, a)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::message(&out)))
    }

    async fn submit_satisfaction(
        &self,
        request: Request<pb::SubmitSatisfactionRequest>,
    ) -> Reply<pb::Satisfaction> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "SubmitSatisfaction",
            |r| r.request_id.clear(),
            &mut v,
        );
        let id = ticket("name", &req.name, &mut v);
        parse::survey_token(&req.survey_token, &mut v);
        let s = parse::satisfaction(id, req.satisfaction.as_ref(), &mut v);
        let (key, s) = parsed(v, key.zip(s))?;
        let out = self
            .svc
            .submit_satisfaction(&key, s.ticket, &req.survey_token, s)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::satisfaction(&out)))
    }

    async fn get_ticket_stats(
        &self,
        request: Request<pb::GetTicketStatsRequest>,
    ) -> Reply<pb::TicketStats> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let start = validate::required_timestamp("start_time", req.start_time.as_ref(), &mut v);
        let end = validate::required_timestamp("end_time", req.end_time.as_ref(), &mut v);
        if let (Some(a), Some(b)) = (start, end)
            && b <= a
        {
            v.add("end_time", "must be after start_time");
        }
        let t = opt("team", &req.team, TeamId::parse_name, &mut v);
        let (start, end) = parsed(v, start.zip(end))?;
        let out = self.svc.stats(start, end, t).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::stats(&out)))
    }

    async fn create_team(&self, request: Request<pb::CreateTeamRequest>) -> Reply<pb::Team> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "CreateTeam",
            |r| r.request_id.clear(),
            &mut v,
        );
        let t = parse::new_team(req.team.as_ref(), &mut v);
        let (key, t) = parsed(v, key.zip(t))?;
        let out = self.svc.create_team(&key, t).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::team(&out)))
    }

    async fn get_team(&self, request: Request<pb::GetTeamRequest>) -> Reply<pb::Team> {
        let mut v = Violations::new();
        let id = team("name", &request.get_ref().name, &mut v);
        let id = parsed(v, id)?;
        let t = self.svc.get_team(id).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::team(&t)))
    }

    async fn list_teams(
        &self,
        request: Request<pb::ListTeamsRequest>,
    ) -> Reply<pb::ListTeamsResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let size = page(req.page_size, &req.page_token, &mut v);
        parsed(v, Some(()))?;
        let page = self
            .svc
            .list_teams(size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::ListTeamsResponse {
            teams: page.items.iter().map(convert::team).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_team(&self, request: Request<pb::UpdateTeamRequest>) -> Reply<pb::Team> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "UpdateTeam",
            |r| r.request_id.clear(),
            &mut v,
        );
        let t = req.team.clone().unwrap_or_default();
        if req.team.is_none() {
            v.add("team", "is required");
        }
        let id = team("team.name", &t.name, &mut v);
        etag("team.etag", &t.etag, &mut v);
        let mask = update_mask(req.update_mask.as_ref(), TEAM_FIELDS, &mut v);
        let p = mask.as_ref().map(|m| parse::team_patch(&t, m, &mut v));
        let ((key, id), p) = parsed(v, key.zip(id).zip(p))?;
        let out = self
            .svc
            .update_team(&key, id, &t.etag, p)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::team(&out)))
    }

    async fn delete_team(&self, request: Request<pb::DeleteTeamRequest>) -> Reply<()> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "DeleteTeam",
            |r| r.request_id.clear(),
            &mut v,
        );
        let id = team("name", &req.name, &mut v);
        etag("etag", &req.etag, &mut v);
        let (key, id) = parsed(v, key.zip(id))?;
        self.svc
            .delete_team(&key, id, &req.etag)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(()))
    }

    async fn create_agent(&self, request: Request<pb::CreateAgentRequest>) -> Reply<pb::Agent> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "CreateAgent",
            |r| r.request_id.clear(),
            &mut v,
        );
        let a = parse::new_agent(req.agent.as_ref(), self.svc.limits(), &mut v);
        let (key, a) = parsed(v, key.zip(a))?;
        let out = self.svc.create_agent(&key, a).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::agent(&out)))
    }

    async fn get_agent(&self, request: Request<pb::GetAgentRequest>) -> Reply<pb::Agent> {
        let mut v = Violations::new();
        let id = agent("name", &request.get_ref().name, &mut v);
        let id = parsed(v, id)?;
        let a = self.svc.get_agent(id).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::agent(&a)))
    }

    async fn list_agents(
        &self,
        request: Request<pb::ListAgentsRequest>,
    ) -> Reply<pb::ListAgentsResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let size = page(req.page_size, &req.page_token, &mut v);
        let t = opt("team", &req.team, TeamId::parse_name, &mut v);
        parsed(v, Some(()))?;
        let page = self
            .svc
            .list_agents(t, size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::ListAgentsResponse {
            agents: page.items.iter().map(convert::agent).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_agent(&self, request: Request<pb::UpdateAgentRequest>) -> Reply<pb::Agent> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "UpdateAgent",
            |r| r.request_id.clear(),
            &mut v,
        );
        let a = req.agent.clone().unwrap_or_default();
        if req.agent.is_none() {
            v.add("agent", "is required");
        }
        let id = agent("agent.name", &a.name, &mut v);
        etag("agent.etag", &a.etag, &mut v);
        let mask = update_mask(req.update_mask.as_ref(), AGENT_FIELDS, &mut v);
        let limits = self.svc.limits();
        let p = mask
            .as_ref()
            .map(|m| parse::agent_patch(&a, m, limits, &mut v));
        let ((key, id), p) = parsed(v, key.zip(id).zip(p))?;
        let out = self
            .svc
            .update_agent(&key, id, &a.etag, p)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(convert::agent(&out)))
    }

    async fn delete_agent(&self, request: Request<pb::DeleteAgentRequest>) -> Reply<()> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "DeleteAgent",
            |r| r.request_id.clear(),
            &mut v,
        );
        let id = agent("name", &req.name, &mut v);
        etag("etag", &req.etag, &mut v);
        let (key, id) = parsed(v, key.zip(id))?;
        self.svc
            .delete_agent(&key, id, &req.etag)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(()))
    }

    async fn create_macro(&self, request: Request<pb::CreateMacroRequest>) -> Reply<pb::Macro> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "CreateMacro",
            |r| r.request_id.clear(),
            &mut v,
        );
        let m = parse::new_macro(req.r#macro.as_ref(), &mut v);
        let (key, m) = parsed(v, key.zip(m))?;
        let out = self.svc.create_macro(&key, m).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::macro_(&out)))
    }

    async fn get_macro(&self, request: Request<pb::GetMacroRequest>) -> Reply<pb::Macro> {
        let mut v = Violations::new();
        let code = v.check(
            "name",
            crate::domain::parse_macro_name(&request.get_ref().name),
        );
        let code = parsed(v, code)?;
        let m = self.svc.get_macro(&code).await.into_status(DOMAIN)?;
        Ok(Response::new(convert::macro_(&m)))
    }

    async fn list_macros(
        &self,
        request: Request<pb::ListMacrosRequest>,
    ) -> Reply<pb::ListMacrosResponse> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let size = page(req.page_size, &req.page_token, &mut v);
        parsed(v, Some(()))?;
        let page = self
            .svc
            .list_macros(size, &req.page_token)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(pb::ListMacrosResponse {
            macros: page.items.iter().map(convert::macro_).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn delete_macro(&self, request: Request<pb::DeleteMacroRequest>) -> Reply<()> {
        let req = request.into_inner();
        let mut v = Violations::new();
        let key = idempotency_key(
            &req,
            &req.request_id,
            "DeleteMacro",
            |r| r.request_id.clear(),
            &mut v,
        );
        let code = v.check("name", crate::domain::parse_macro_name(&req.name));
        let (key, code) = parsed(v, key.zip(code))?;
        self.svc
            .delete_macro(&key, &code)
            .await
            .into_status(DOMAIN)?;
        Ok(Response::new(()))
    }
}
