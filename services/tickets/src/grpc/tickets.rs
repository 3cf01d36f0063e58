//! Tickets and their threads: create, read, list, update, status, assignment, merge,
//! messages and macros applied as replies.
use super::parse::{self, agent, etag, opt, page, parsed, required_enum, ticket};
use super::{Reply, convert, owner, update_mask};
use crate::domain::assignment::Assign;
use crate::domain::{AgentId, Author, TeamId};
use crate::error::{self, DOMAIN};
use crate::service::TicketsService;
use crm_platform::Violations;
use crm_platform::grpc::IntoStatus;
use crm_platform::request_key;
use crm_proto::tickets as pb;
use tonic::{Request, Response};

/// The fields UpdateTicket may change.
const TICKET_FIELDS: &[&str] = &[
    "category",
    "priority",
    "subject",
    "description",
    "tags",
    "order_id",
    "booking_id",
];

pub async fn create_ticket(
    svc: &TicketsService,
    request: Request<pb::CreateTicketRequest>,
) -> Reply<pb::Ticket> {
    let who = crm_platform::auth::caller(&request);
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "CreateTicket", &mut v);
    let new = parse::new_ticket(req.ticket.as_ref(), svc.limits(), &mut v);
    let (key, new) = parsed(v, key.zip(new))?;
    who.require_customer(new.customer.0).into_status(DOMAIN)?;
    let out = svc.create_ticket(&key, new).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::ticket(&out)))
}

pub async fn get_ticket(
    svc: &TicketsService,
    request: Request<pb::GetTicketRequest>,
) -> Reply<pb::Ticket> {
    let owner = owner(&request);
    let mut v = Violations::new();
    let id = ticket("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    svc.require_owner(id, owner).await.into_status(DOMAIN)?;
    let t = svc.get_ticket(id).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::ticket(&t)))
}

pub async fn list_tickets(
    svc: &TicketsService,
    request: Request<pb::ListTicketsRequest>,
) -> Reply<pb::ListTicketsResponse> {
    let owner = owner(&request);
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page(req.page_size, &req.page_token, &mut v);
    let q = parse::ticket_query(&req, &mut v);
    let mut q = parsed(v, Some(q))?;
    // A customer's own token lists its own tickets: no filter means its customer, another
    // customer is refused.
    if let Some(own) = owner {
        match q.customer {
            None => q.customer = Some(own),
            Some(c) if c == own => {}
            Some(_) => return Err(error::not_own_resource()).into_status(DOMAIN),
        }
    }
    let page = svc
        .list_tickets(&q, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListTicketsResponse {
        tickets: page.items.iter().map(convert::ticket).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn update_ticket(
    svc: &TicketsService,
    request: Request<pb::UpdateTicketRequest>,
) -> Reply<pb::Ticket> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "UpdateTicket", &mut v);
    let t = parse::whole("ticket", req.ticket.as_ref(), &mut v);
    let id = ticket("ticket.name", &t.name, &mut v);
    etag("ticket.etag", &t.etag, &mut v);
    let mask = update_mask(req.update_mask.as_ref(), TICKET_FIELDS, &mut v);
    let limits = svc.limits();
    let p = mask
        .as_ref()
        .map(|m| parse::ticket_patch(&t, m, limits, &mut v));
    let ((key, id), p) = parsed(v, key.zip(id).zip(p))?;
    let out = svc
        .update_ticket(&key, id, &t.etag, p)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(convert::ticket(&out)))
}

pub async fn change_status(
    svc: &TicketsService,
    request: Request<pb::ChangeStatusRequest>,
) -> Reply<pb::Ticket> {
    let actor = crm_platform::grpc::actor(request.metadata());
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "ChangeStatus", &mut v);
    let id = ticket("name", &req.name, &mut v);
    let to = required_enum("status", req.status, &mut v);
    etag("etag", &req.etag, &mut v);
    let ((key, id), to) = parsed(v, key.zip(id).zip(to))?;
    let out = svc
        .change_status(&key, id, to, &req.etag, &actor)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(convert::ticket(&out)))
}

pub async fn assign_ticket(
    svc: &TicketsService,
    request: Request<pb::AssignTicketRequest>,
) -> Reply<pb::Ticket> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "AssignTicket", &mut v);
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
    let out = svc
        .assign(&key, id, how, &req.etag)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(convert::ticket(&out)))
}

pub async fn merge_tickets(
    svc: &TicketsService,
    request: Request<pb::MergeTicketsRequest>,
) -> Reply<pb::Ticket> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "MergeTickets", &mut v);
    let target = ticket("name", &req.name, &mut v);
    let source = ticket("source", &req.source, &mut v);
    if target.is_some() && target == source {
        v.add("source", "must differ from name");
    }
    let (key, (target, source)) = parsed(v, key.zip(target.zip(source)))?;
    let out = svc.merge(&key, target, source).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::ticket(&out)))
}

pub async fn add_message(
    svc: &TicketsService,
    request: Request<pb::AddMessageRequest>,
) -> Reply<pb::Message> {
    let owner = owner(&request);
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "AddMessage", &mut v);
    let id = ticket("parent", &req.parent, &mut v);
    let m = parse::new_message(req.message.as_ref(), svc.limits(), &mut v);
    let (key, (id, m)) = parsed(v, key.zip(id.zip(m)))?;
    svc.require_owner(id, owner).await.into_status(DOMAIN)?;
    // ... and writes as that customer, not as an agent or someone else.
    if owner.is_some_and(|own| m.author != Author::Customer(own)) {
        return Err(error::not_own_resource()).into_status(DOMAIN);
    }
    let out = svc.add_message(&key, id, m).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::message(&out)))
}

pub async fn list_messages(
    svc: &TicketsService,
    request: Request<pb::ListMessagesRequest>,
) -> Reply<pb::ListMessagesResponse> {
    let owner = owner(&request);
    let req = request.into_inner();
    let mut v = Violations::new();
    let id = ticket("parent", &req.parent, &mut v);
    let size = page(req.page_size, &req.page_token, &mut v);
    let id = parsed(v, id)?;
    svc.require_owner(id, owner).await.into_status(DOMAIN)?;
    // A customer never sees the agents' internal notes.
    let public_only = req.public_only || owner.is_some();
    let page = svc
        .list_messages(id, public_only, size, &req.page_token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListMessagesResponse {
        messages: page.items.iter().map(convert::message).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn apply_macro(
    svc: &TicketsService,
    request: Request<pb::ApplyMacroRequest>,
) -> Reply<pb::Message> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "ApplyMacro", &mut v);
    let id = ticket("name", &req.name, &mut v);
    let code = v.check("macro", crate::domain::parse_macro_name(&req.r#macro));
    let a = agent("agent", &req.agent, &mut v);
    let ((key, id), (code, a)) = parsed(v, key.zip(id).zip(code.zip(a)))?;
    let out = svc
        .apply_macro(&key, id, &code, a)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(convert::message(&out)))
}
