//! The gRPC adapter: parses requests into domain types (every bad field reported at once,
//! in [`parse`]), calls [`TicketsService`], converts results back ([`convert`]). No business
//! rules live here.
mod convert;
mod csat;
mod org;
mod parse;
pub mod policy;
mod stats;
mod tickets;

use crate::domain::CustomerId;
use crate::service::TicketsService;
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
use crm_platform::validate::{self, max_items};
use crm_proto::tickets as pb;
use crm_proto::tickets::ticket_service_server::TicketService as TicketRpc;
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

/// The customer a customer's own token (subject `customers/{id}`) is limited to; `None` for
/// every other caller.
fn owner<T>(request: &Request<T>) -> Option<CustomerId> {
    crm_platform::auth::caller(request).customer.map(CustomerId)
}

/// Each call is handled by its aggregate's module.
#[tonic::async_trait]
impl TicketRpc for TicketsGrpc {
    async fn create_ticket(&self, request: Request<pb::CreateTicketRequest>) -> Reply<pb::Ticket> {
        tickets::create_ticket(&self.svc, request).await
    }

    async fn get_ticket(&self, request: Request<pb::GetTicketRequest>) -> Reply<pb::Ticket> {
        tickets::get_ticket(&self.svc, request).await
    }

    async fn list_tickets(
        &self,
        request: Request<pb::ListTicketsRequest>,
    ) -> Reply<pb::ListTicketsResponse> {
        tickets::list_tickets(&self.svc, request).await
    }

    async fn update_ticket(&self, request: Request<pb::UpdateTicketRequest>) -> Reply<pb::Ticket> {
        tickets::update_ticket(&self.svc, request).await
    }

    async fn add_message(&self, request: Request<pb::AddMessageRequest>) -> Reply<pb::Message> {
        tickets::add_message(&self.svc, request).await
    }

    async fn list_messages(
        &self,
        request: Request<pb::ListMessagesRequest>,
    ) -> Reply<pb::ListMessagesResponse> {
        tickets::list_messages(&self.svc, request).await
    }

    async fn change_status(&self, request: Request<pb::ChangeStatusRequest>) -> Reply<pb::Ticket> {
        tickets::change_status(&self.svc, request).await
    }

    async fn assign_ticket(&self, request: Request<pb::AssignTicketRequest>) -> Reply<pb::Ticket> {
        tickets::assign_ticket(&self.svc, request).await
    }

    async fn merge_tickets(&self, request: Request<pb::MergeTicketsRequest>) -> Reply<pb::Ticket> {
        tickets::merge_tickets(&self.svc, request).await
    }

    async fn apply_macro(&self, request: Request<pb::ApplyMacroRequest>) -> Reply<pb::Message> {
        tickets::apply_macro(&self.svc, request).await
    }

    async fn submit_satisfaction(
        &self,
        request: Request<pb::SubmitSatisfactionRequest>,
    ) -> Reply<pb::Satisfaction> {
        csat::submit_satisfaction(&self.svc, request).await
    }

    async fn get_ticket_stats(
        &self,
        request: Request<pb::GetTicketStatsRequest>,
    ) -> Reply<pb::TicketStats> {
        stats::get_ticket_stats(&self.svc, request).await
    }

    async fn create_team(&self, request: Request<pb::CreateTeamRequest>) -> Reply<pb::Team> {
        org::create_team(&self.svc, request).await
    }

    async fn get_team(&self, request: Request<pb::GetTeamRequest>) -> Reply<pb::Team> {
        org::get_team(&self.svc, request).await
    }

    async fn list_teams(
        &self,
        request: Request<pb::ListTeamsRequest>,
    ) -> Reply<pb::ListTeamsResponse> {
        org::list_teams(&self.svc, request).await
    }

    async fn update_team(&self, request: Request<pb::UpdateTeamRequest>) -> Reply<pb::Team> {
        org::update_team(&self.svc, request).await
    }

    async fn delete_team(&self, request: Request<pb::DeleteTeamRequest>) -> Reply<()> {
        org::delete_team(&self.svc, request).await
    }

    async fn create_agent(&self, request: Request<pb::CreateAgentRequest>) -> Reply<pb::Agent> {
        org::create_agent(&self.svc, request).await
    }

    async fn get_agent(&self, request: Request<pb::GetAgentRequest>) -> Reply<pb::Agent> {
        org::get_agent(&self.svc, request).await
    }

    async fn list_agents(
        &self,
        request: Request<pb::ListAgentsRequest>,
    ) -> Reply<pb::ListAgentsResponse> {
        org::list_agents(&self.svc, request).await
    }

    async fn update_agent(&self, request: Request<pb::UpdateAgentRequest>) -> Reply<pb::Agent> {
        org::update_agent(&self.svc, request).await
    }

    async fn delete_agent(&self, request: Request<pb::DeleteAgentRequest>) -> Reply<()> {
        org::delete_agent(&self.svc, request).await
    }

    async fn create_macro(&self, request: Request<pb::CreateMacroRequest>) -> Reply<pb::Macro> {
        org::create_macro(&self.svc, request).await
    }

    async fn get_macro(&self, request: Request<pb::GetMacroRequest>) -> Reply<pb::Macro> {
        org::get_macro(&self.svc, request).await
    }

    async fn list_macros(
        &self,
        request: Request<pb::ListMacrosRequest>,
    ) -> Reply<pb::ListMacrosResponse> {
        org::list_macros(&self.svc, request).await
    }

    async fn delete_macro(&self, request: Request<pb::DeleteMacroRequest>) -> Reply<()> {
        org::delete_macro(&self.svc, request).await
    }
}
