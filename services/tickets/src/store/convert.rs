//! Rows <-> domain records: one column per scalar field, the list-valued fields as the JSON
//! columns of [`super::lists`]. What a row stores is this module's choice, not the domain
//! types' serde (a renamed domain field does not change a stored name).
use super::entities::{agent, macro_, message, satisfaction, team, ticket};
use super::lists::{self, JSON_VERSION, v1};
use crate::domain::sla::{Miss, elapsed};
use crate::domain::{
    Agent, AgentId, Attachment, Author, Calendar, Category, Channel, CustomerCheck, CustomerId,
    Macro, Message, MessageId, MessageKind, Priority, RoutingStrategy, Satisfaction, SlaTrack,
    Status, Target, Team, TeamId, Ticket, TicketId,
};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use std::collections::BTreeMap;
use uuid::Uuid;

/// What the columns derived with the calendar mean; rows with an older version get them
/// filled by [`super::backfill_ticket_columns`].
pub const TICKET_COLUMNS_VERSION: i32 = 1;

/// A stored enum string as its value; an unknown one is a corrupt row.
fn stored<T>(parse: impl Fn(&str) -> Option<T>, column: &str, s: &str) -> Result<T, Error> {
    parse(s).ok_or_else(|| Error::internal(anyhow::anyhow!("corrupt {column}: {s:?}")))
}

fn parse_target(s: &str) -> Option<Target> {
    [
        Target::FirstResponse,
        Target::NextResponse,
        Target::Resolution,
    ]
    .into_iter()
    .find(|t| t.as_str() == s)
}

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
    let missed: Vec<v1::Miss> = t
        .sla
        .missed
        .iter()
        .map(|m| v1::Miss {
            target: m.target.as_str().to_owned(),
            due: m.due,
        })
        .collect();
    let merged_from: Vec<Uuid> = t.merged_from.iter().map(|x| x.0).collect();
    Ok(ticket::ActiveModel {
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
        subject: Set(t.subject.clone()),
        description: Set(t.description.clone()),
        tags: Set(lists::encode(&t.tags)?),
        order_id: Set(t.order_id.clone()),
        booking_id: Set(t.booking_id.clone()),
        sla_policy: Set(t.sla.policy.clone()),
        sla_first_response_due: Set(t.sla.first_response_due),
        sla_next_response_due: Set(t.sla.next_response_due),
        sla_resolution_due: Set(t.sla.resolution_due),
        sla_paused_since: Set(t.sla.paused_since),
        sla_missed: Set(lists::encode(&missed)?),
        sla_finished: Set(t.sla.finished),
        sla_unanswered: Set(t.sla.unanswered),
        first_response_time: Set(t.first_response_time),
        solve_time: Set(t.solve_time),
        close_time: Set(t.close_time),
        merged_into: Set(t.merged_into.map(|x| x.0)),
        merged_from: Set(lists::encode(&merged_from)?),
        escalations: Set(t.escalations),
        survey_token: Set(t.survey_token.clone()),
        survey: Set(t.survey),
        json_version: Set(JSON_VERSION),
        first_response_seconds: Set(fr),
        first_response_business_seconds: Set(fr_business),
        resolution_seconds: Set(res),
        resolution_business_seconds: Set(res_business),
        merged: Set(t.merged_into.is_some()),
        columns_version: Set(TICKET_COLUMNS_VERSION),
    })
}

pub fn ticket_from_row(r: ticket::Model) -> Result<Ticket, Error> {
    let v = r.json_version;
    let missed: Vec<v1::Miss> = lists::decode(v, "tickets.sla_missed", &r.sla_missed)?;
    let missed = missed
        .into_iter()
        .map(|m| {
            Ok(Miss {
                target: stored(parse_target, "tickets.sla_missed", &m.target)?,
                due: m.due,
            })
        })
        .collect::<Result<_, Error>>()?;
    let merged_from: Vec<Uuid> = lists::decode(v, "tickets.merged_from", &r.merged_from)?;
    Ok(Ticket {
        id: TicketId(r.id),
        customer: CustomerId(r.customer_id),
        channel: stored(Channel::parse, "tickets.channel", &r.channel)?,
        category: stored(Category::parse, "tickets.category", &r.category)?,
        priority: stored(Priority::parse, "tickets.priority", &r.priority)?,
        status: stored(Status::parse, "tickets.status", &r.status)?,
        subject: r.subject,
        description: r.description,
        tags: lists::decode(v, "tickets.tags", &r.tags)?,
        team: r.team_id.map(TeamId),
        assignee: r.assignee_id.map(AgentId),
        order_id: r.order_id,
        booking_id: r.booking_id,
        customer_check: stored(
            CustomerCheck::parse,
            "tickets.customer_check",
            &r.customer_check,
        )?,
        sla: SlaTrack {
            policy: r.sla_policy,
            first_response_due: r.sla_first_response_due,
            next_response_due: r.sla_next_response_due,
            resolution_due: r.sla_resolution_due,
            paused_since: r.sla_paused_since,
            missed,
            finished: r.sla_finished,
            unanswered: r.sla_unanswered,
        },
        create_time: r.create_time,
        update_time: r.update_time,
        first_response_time: r.first_response_time,
        solve_time: r.solve_time,
        close_time: r.close_time,
        merged_into: r.merged_into.map(TicketId),
        merged_from: merged_from.into_iter().map(TicketId).collect(),
        escalations: r.escalations,
        survey_token: r.survey_token,
        survey: r.survey,
        revision: r.revision,
    })
}

/// `author_kind` and `author_id` of an author.
fn author_columns(a: &Author) -> (&'static str, Option<Uuid>) {
    match a {
        Author::Agent(x) => ("agent", Some(x.0)),
        Author::Customer(x) => ("customer", Some(x.0)),
        Author::System => ("system", None),
    }
}

fn author_of(kind: &str, id: Option<Uuid>) -> Result<Author, Error> {
    match (kind, id) {
        ("agent", Some(x)) => Ok(Author::Agent(AgentId(x))),
        ("customer", Some(x)) => Ok(Author::Customer(CustomerId(x))),
        ("system", None) => Ok(Author::System),
        _ => Err(Error::internal(anyhow::anyhow!(
            "corrupt ticket_messages.author: {kind:?} {id:?}"
        ))),
    }
}

pub fn message_row(m: &Message) -> Result<message::ActiveModel, Error> {
    let (author_kind, author_id) = author_columns(&m.author);
    let attachments: Vec<v1::Attachment> = m
        .attachments
        .iter()
        .map(|a| v1::Attachment {
            file_name: a.file_name.clone(),
            content_type: a.content_type.clone(),
            size_bytes: a.size_bytes,
            uri: a.uri.clone(),
        })
        .collect();
    Ok(message::ActiveModel {
        id: Set(m.id.0),
        ticket_id: Set(m.ticket.0),
        origin_ticket_id: Set(m.origin_ticket.map(|x| x.0)),
        kind: Set(m.kind.as_str().to_owned()),
        create_time: Set(m.create_time),
        author_kind: Set(author_kind.to_owned()),
        author_id: Set(author_id),
        body: Set(m.body.clone()),
        attachments: Set(lists::encode(&attachments)?),
        json_version: Set(JSON_VERSION),
    })
}

pub fn message_from_row(r: message::Model) -> Result<Message, Error> {
    let attachments: Vec<v1::Attachment> = lists::decode(
        r.json_version,
        "ticket_messages.attachments",
        &r.attachments,
    )?;
    Ok(Message {
        id: MessageId(r.id),
        ticket: TicketId(r.ticket_id),
        kind: stored(MessageKind::parse, "ticket_messages.kind", &r.kind)?,
        author: author_of(&r.author_kind, r.author_id)?,
        body: r.body,
        attachments: attachments
            .into_iter()
            .map(|a| Attachment {
                file_name: a.file_name,
                content_type: a.content_type,
                size_bytes: a.size_bytes,
                uri: a.uri,
            })
            .collect(),
        create_time: r.create_time,
        origin_ticket: r.origin_ticket_id.map(TicketId),
    })
}

pub fn team_row(t: &Team) -> Result<team::ActiveModel, Error> {
    let categories: Vec<&str> = t.categories.iter().map(|c| c.as_str()).collect();
    let skills: BTreeMap<&str, &str> = t
        .category_skills
        .iter()
        .map(|(c, s)| (c.as_str(), s.as_str()))
        .collect();
    Ok(team::ActiveModel {
        id: Set(t.id.0),
        create_time: Set(t.create_time),
        revision: Set(t.revision),
        display_name: Set(t.display_name.clone()),
        routing_strategy: Set(t.routing_strategy.as_str().to_owned()),
        categories: Set(lists::encode(&categories)?),
        category_skills: Set(lists::encode(&skills)?),
        escalation_team: Set(t.escalation_team),
        update_time: Set(t.update_time),
        json_version: Set(JSON_VERSION),
    })
}

pub fn team_from_row(r: team::Model) -> Result<Team, Error> {
    let v = r.json_version;
    let category = |s: &str| stored(Category::parse, "teams.categories", s);
    let categories: Vec<String> = lists::decode(v, "teams.categories", &r.categories)?;
    let skills: BTreeMap<String, String> =
        lists::decode(v, "teams.category_skills", &r.category_skills)?;
    Ok(Team {
        id: TeamId(r.id),
        display_name: r.display_name,
        routing_strategy: stored(
            RoutingStrategy::parse,
            "teams.routing_strategy",
            &r.routing_strategy,
        )?,
        categories: categories
            .iter()
            .map(|c| category(c))
            .collect::<Result<_, _>>()?,
        category_skills: skills
            .into_iter()
            .map(|(c, s)| Ok((category(&c)?, s)))
            .collect::<Result<_, Error>>()?,
        escalation_team: r.escalation_team,
        create_time: r.create_time,
        update_time: r.update_time,
        revision: r.revision,
    })
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
        display_name: Set(a.display_name.clone()),
        email: Set(a.email.clone()),
        skills: Set(lists::encode(&a.skills)?),
        update_time: Set(a.update_time),
        json_version: Set(JSON_VERSION),
    })
}

pub fn agent_from_row(r: agent::Model) -> Result<Agent, Error> {
    Ok(Agent {
        id: AgentId(r.id),
        display_name: r.display_name,
        email: r.email,
        team: TeamId(r.team_id),
        skills: lists::decode(r.json_version, "agents.skills", &r.skills)?,
        max_open_tickets: r.max_open_tickets,
        available: r.available,
        open_tickets: r.open_tickets,
        last_assigned: r.last_assigned,
        create_time: r.create_time,
        update_time: r.update_time,
        revision: r.revision,
    })
}

pub fn macro_row(m: &Macro) -> macro_::ActiveModel {
    macro_::ActiveModel {
        code: Set(m.code.clone()),
        create_time: Set(m.create_time),
        title: Set(m.title.clone()),
        body: Set(m.body.clone()),
    }
}

pub fn macro_from_row(r: macro_::Model) -> Macro {
    Macro {
        code: r.code,
        title: r.title,
        body: r.body,
        create_time: r.create_time,
    }
}

pub fn satisfaction_row(s: &Satisfaction) -> satisfaction::ActiveModel {
    satisfaction::ActiveModel {
        ticket_id: Set(s.ticket.0),
        survey: Set(s.survey),
        survey_token: Set(s.survey_token.clone()),
        overall: Set(s.overall),
        submit_time: Set(s.submit_time),
        goodwill_pending: Set(s.goodwill_pending),
        service: Set(s.service),
        product_quality: Set(s.product_quality),
        logistics: Set(s.logistics),
        comment: Set(s.comment.clone()),
        goodwill_points: Set(s.goodwill_points),
    }
}

pub fn satisfaction_from_row(r: satisfaction::Model) -> Satisfaction {
    Satisfaction {
        ticket: TicketId(r.ticket_id),
        survey: r.survey,
        survey_token: r.survey_token,
        overall: r.overall,
        service: r.service,
        product_quality: r.product_quality,
        logistics: r.logistics,
        comment: r.comment,
        submit_time: r.submit_time,
        goodwill_points: r.goodwill_points,
        goodwill_pending: r.goodwill_pending,
    }
}
