//! Rows <-> domain records. A row's `doc` is the record as JSON; the columns beside it are
//! authoritative where they can change without the doc (agent load, moved messages).
use super::entities::{agent, macro_, message, satisfaction, team, ticket};
use crate::domain::sla::elapsed;
use crate::domain::{
    Agent, AgentId, Calendar, Macro, Message, Satisfaction, Team, TeamId, Ticket, TicketId,
};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn to_doc<T: Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(Error::internal)
}

fn from_doc<T: DeserializeOwned>(doc: &str, what: &str) -> Result<T, Error> {
    serde_json::from_str(doc).map_err(|e| Error::internal(anyhow::anyhow!("corrupt {what}: {e}")))
}

/// What the columns beside the doc mean; rows with an older version get their derived
/// columns filled by [`super::backfill_ticket_columns`].
pub const TICKET_COLUMNS_VERSION: i32 = 1;

/// The figures stats aggregate: (first response, resolution), each as (wall-clock seconds,
/// business seconds on `cal`) since creation, when the ticket has one.
pub type Durations = [(Option<i64>, Option<i64>); 2];

pub fn durations(t: &Ticket, cal: &Calendar) -> Durations {
    let since_create = |end: Option<DateTime<Utc>>| {
        let (wall, business) = end.map(|e| elapsed(cal, t.create_time, e)).unzip();
        (wall, business)
    };
    [
        since_create(t.first_response_time),
        since_create(t.solve_time),
    ]
}

/// The row of a ticket; the SLA state column is the state at `now`, durations on `cal`.
pub fn ticket_row(
    t: &Ticket,
    now: DateTime<Utc>,
    cal: &Calendar,
) -> Result<ticket::ActiveModel, Error> {
    let next_check = if t.status.is_open() {
        t.sla.next_check()
    } else {
        None
    };
    let [(fr, fr_business), (res, res_business)] = durations(t, cal);
    Ok(ticket::ActiveModel {
        first_response_seconds: Set(fr),
        first_response_business_seconds: Set(fr_business),
        resolution_seconds: Set(res),
        resolution_business_seconds: Set(res_business),
        merged: Set(t.merged_into.is_some()),
        columns_version: Set(TICKET_COLUMNS_VERSION),
        id: Set(t.id.0),
        customer_id: Set(t.customer.0),
        status: Set(t.status.as_str().to_owned()),
        priority: Set(t.priority.as_str().to_owned()),
        channel: Set(t.channel.as_str().to_owned()),
        category: Set(t.category.as_str().to_owned()),
        team_id: Set(t.team.map(|x| x.0)),
        assignee_id: Set(t.assignee.map(|x| x.0)),
        sla_state: Set(t.sla.state(now).as_str().to_owned()),
        customer_check: Set(t.customer_check.as_str().to_owned()),
        next_check: Set(next_check),
        create_time: Set(t.create_time),
        update_time: Set(t.update_time),
        revision: Set(t.revision),
        doc: Set(to_doc(t)?),
    })
}

pub fn ticket_from_row(r: ticket::Model) -> Result<Ticket, Error> {
    let mut t: Ticket = from_doc(&r.doc, "ticket")?;
    // Written before surveys were numbered: its one survey is the first.
    if t.survey == 0 && !t.survey_token.is_empty() {
        t.survey = 1;
    }
    t.id = TicketId(r.id);
    t.revision = r.revision;
    Ok(t)
}

pub fn message_row(m: &Message) -> Result<message::ActiveModel, Error> {
    Ok(message::ActiveModel {
        id: Set(m.id.0),
        ticket_id: Set(m.ticket.0),
        origin_ticket_id: Set(m.origin_ticket.map(|x| x.0)),
        kind: Set(m.kind.as_str().to_owned()),
        create_time: Set(m.create_time),
        doc: Set(to_doc(m)?),
    })
}

pub fn message_from_row(r: message::Model) -> Result<Message, Error> {
    let mut m: Message = from_doc(&r.doc, "message")?;
    m.ticket = TicketId(r.ticket_id);
    m.origin_ticket = r.origin_ticket_id.map(TicketId);
    Ok(m)
}

pub fn team_row(t: &Team) -> Result<team::ActiveModel, Error> {
    Ok(team::ActiveModel {
        id: Set(t.id.0),
        create_time: Set(t.create_time),
        revision: Set(t.revision),
        doc: Set(to_doc(t)?),
    })
}

pub fn team_from_row(r: team::Model) -> Result<Team, Error> {
    let mut t: Team = from_doc(&r.doc, "team")?;
    t.id = TeamId(r.id);
    t.revision = r.revision;
    Ok(t)
}

pub fn agent_row(a: &Agent) -> Result<agent::ActiveModel, Error> {
    Ok(agent::ActiveModel {
        id: Set(a.id.0),
        team_id: Set(a.team.0),
        open_tickets: Set(a.open_tickets),
        max_open_tickets: Set(a.max_open_tickets),
        available: Set(a.available),
        last_assigned: Set(a.last_assigned),
        create_time: Set(a.create_time),
        revision: Set(a.revision),
        doc: Set(to_doc(a)?),
    })
}

pub fn agent_from_row(r: agent::Model) -> Result<Agent, Error> {
    let mut a: Agent = from_doc(&r.doc, "agent")?;
    a.id = AgentId(r.id);
    a.team = TeamId(r.team_id);
    a.open_tickets = r.open_tickets;
    a.max_open_tickets = r.max_open_tickets;
    a.available = r.available;
    a.last_assigned = r.last_assigned;
    a.revision = r.revision;
    Ok(a)
}

pub fn macro_row(m: &Macro) -> Result<macro_::ActiveModel, Error> {
    Ok(macro_::ActiveModel {
        code: Set(m.code.clone()),
        create_time: Set(m.create_time),
        doc: Set(to_doc(m)?),
    })
}

pub fn macro_from_row(r: macro_::Model) -> Result<Macro, Error> {
    from_doc(&r.doc, "macro")
}

pub fn satisfaction_row(s: &Satisfaction) -> Result<satisfaction::ActiveModel, Error> {
    Ok(satisfaction::ActiveModel {
        ticket_id: Set(s.ticket.0),
        survey: Set(s.survey),
        survey_token: Set(s.survey_token.clone()),
        overall: Set(s.overall),
        submit_time: Set(s.submit_time),
        goodwill_pending: Set(s.goodwill_pending),
        doc: Set(to_doc(s)?),
    })
}

pub fn satisfaction_from_row(r: satisfaction::Model) -> Result<Satisfaction, Error> {
    let mut s: Satisfaction = from_doc(&r.doc, "satisfaction")?;
    s.survey = r.survey;
    s.survey_token = r.survey_token;
    Ok(s)
}
