//! Values the domain tests build their cases from.
use super::{
    AgentId, Calendar, Category, Channel, CustomerCheck, CustomerId, NewTicket, Priority,
    SlaPolicy, SlaRules, Status, TeamId, Ticket, TicketId,
};
use chrono::{DateTime, Duration, Utc};

/// Hour `h` of the test timeline.
pub fn at(h: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default() + Duration::hours(h)
}

/// First response within 1 hour, next within 2, resolution within 10.
pub fn policy() -> SlaPolicy {
    SlaPolicy {
        name: "default".into(),
        priority: None,
        category: None,
        first_response_same_day: false,
        first_response_minutes: 60,
        next_response_minutes: 120,
        resolution_minutes: 600,
    }
}

pub fn calendar() -> Calendar {
    Calendar::always()
}

/// `policy()` on `calendar()`, for the rules that move SLA targets.
pub fn rules<'a>(p: &'a SlaPolicy, c: &'a Calendar) -> SlaRules<'a> {
    SlaRules {
        policy: p,
        calendar: c,
    }
}

pub fn customer() -> CustomerId {
    CustomerId(uuid::Uuid::from_u128(1))
}

pub fn agent(n: u128) -> AgentId {
    AgentId(uuid::Uuid::from_u128(100 + n))
}

pub fn team(n: u128) -> TeamId {
    TeamId(uuid::Uuid::from_u128(200 + n))
}

/// A ticket created at hour 0 with its SLA running, in `status`, assigned to agent 1 of team 1.
pub fn ticket(status: Status) -> Ticket {
    let new = NewTicket {
        customer: customer(),
        channel: Channel::Email,
        category: Category::Repair,
        priority: Priority::Normal,
        subject: "Broken kettle".into(),
        description: String::new(),
        tags: Vec::new(),
        order_id: String::new(),
        booking_id: String::new(),
    };
    let (p, cal) = (policy(), calendar());
    let check = CustomerCheck::Verified;
    let mut t = new.open(customer(), check, Priority::Normal, at(0), rules(&p, &cal));
    t.id = TicketId(uuid::Uuid::from_u128(7));
    t.status = status;
    t.team = Some(team(1));
    t.assignee = Some(agent(1));
    t
}

/// A ticket answered at hour 0 and solved at hour `h`.
pub fn solved_at(h: i64) -> Ticket {
    let mut t = ticket(Status::Solved);
    t.first_response_time = Some(at(0));
    t.sla.met(super::Target::FirstResponse, at(0));
    t.sla.finish(at(h));
    t.solve_time = Some(at(h));
    t.survey = 1;
    t.survey_token = "token-1".into();
    t
}
