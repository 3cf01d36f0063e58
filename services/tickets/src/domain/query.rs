//! What ListTickets filters on (the store turns it into index range reads).
use super::{AgentId, Category, Channel, CustomerId, Priority, SlaState, Status, TeamId};
use chrono::{DateTime, Utc};

/// ListTickets' filters (None: any); the SLA state is the one at the time of the call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketQuery {
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub team: Option<TeamId>,
    pub assignee: Option<AgentId>,
    pub customer: Option<CustomerId>,
    pub channel: Option<Channel>,
    pub category: Option<Category>,
    pub sla_state: Option<SlaState>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}
