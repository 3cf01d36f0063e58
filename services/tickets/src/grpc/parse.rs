//! Proto -> domain: request parsers that record every violation under the field's proto
//! path, so a handler only parses, calls the service and converts the answer back.
use crate::domain::{
    Agent, AgentId, AgentPatch, Attachment, Author, Category, Channel, CustomerId, Macro,
    MessageKind, NewTicket, Priority, RoutingStrategy, Satisfaction, Team, TeamId, TeamPatch,
    TicketId, TicketPatch, TicketQuery, WireEnum, check_macro_code, macros, now,
};
use crate::error::DOMAIN;
use crate::service::NewMessage;
use crate::settings::Limits;
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
pub use crm_platform::grpc::{page_size, text};
use crm_platform::validate::{self, in_range, max_items, multiline};
use crm_proto::tickets as pb;
use std::collections::BTreeMap;
use tonic::Status;

pub const MAX_TEXT: usize = 20_000;

/// The value parsed from a request, or INVALID_ARGUMENT listing every violation.
pub fn parsed<T>(v: Violations, value: Option<T>) -> Result<T, Status> {
    crm_platform::grpc::parsed(v, value, DOMAIN)
}

pub fn ticket(field: &str, name: &str, v: &mut Violations) -> Option<TicketId> {
    v.check(field, TicketId::parse_name(name))
}

pub fn customer(field: &str, name: &str, v: &mut Violations) -> Option<CustomerId> {
    v.check(field, CustomerId::parse_name(name))
}

pub fn team(field: &str, name: &str, v: &mut Violations) -> Option<TeamId> {
    v.check(field, TeamId::parse_name(name))
}

pub fn agent(field: &str, name: &str, v: &mut Violations) -> Option<AgentId> {
    v.check(field, AgentId::parse_name(name))
}

/// An optional resource name: empty is `None`, else it must parse.
pub fn opt<T, E: std::fmt::Display>(
    field: &str,
    name: &str,
    parse: impl Fn(&str) -> Result<T, E>,
    v: &mut Violations,
) -> Option<T> {
    if name.is_empty() {
        None
    } else {
        v.check(field, parse(name))
    }
}

/// A required enum value (UNSPECIFIED and unknown numbers are violations).
pub fn required_enum<E: WireEnum>(field: &str, code: i32, v: &mut Violations) -> Option<E> {
    let e = E::from_code(code);
    if e.is_none() {
        v.add(
            field,
            if code == 0 {
                "is required"
            } else {
                "is not a known value"
            },
        );
    }
    e
}

/// An optional enum value: UNSPECIFIED is `None`; unknown numbers are violations.
pub fn opt_enum<E: WireEnum>(field: &str, code: i32, v: &mut Violations) -> Option<E> {
    if code == 0 {
        return None;
    }
    required_enum(field, code, v)
}

/// Longest etag and survey token accepted (ours are far shorter).
const MAX_TOKEN: usize = 64;
/// Longest page token accepted (ours are far shorter).
const MAX_PAGE_TOKEN: usize = 2048;

/// Lower-case labels ([a-z0-9_-], 1..=40 characters), at most `max`, duplicates dropped.
/// Over `max`, the entries are not looked at (one violation, however long the list).
pub fn labels(field: &str, items: &[String], max: usize, v: &mut Violations) -> Vec<String> {
    if !max_items(field, items.len(), max, v) {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, s) in items.iter().enumerate() {
        let t = s.trim();
        let ok = !t.is_empty()
            && t.len() <= 40
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            v.add(format!("{field}[{i}]"), "must match [a-z0-9_-]{1,40}");
        } else if !out.iter().any(|x| x == t) {
            out.push(t.to_owned());
        }
    }
    out
}

/// An etag sent back by a caller: one line, short (a stale or foreign one is ABORTED later).
pub fn etag(field: &str, s: &str, v: &mut Violations) {
    text(field, s, MAX_TOKEN, false, v);
}

/// A page size and token: the size not negative (larger than the maximum is lowered), the
/// token one bounded line (its signature is checked by the service).
pub fn page(size: i32, token: &str, v: &mut Violations) -> u32 {
    text("page_token", token, MAX_PAGE_TOKEN, false, v);
    page_size(size, v)
}

/// A survey token: required, one bounded line.
pub fn survey_token(token: &str, v: &mut Violations) {
    text("survey_token", token, MAX_TOKEN, true, v);
}

pub fn attachments(
    field: &str,
    items: &[crm_proto::tickets::Attachment],
    limits: &Limits,
    v: &mut Violations,
) -> Vec<Attachment> {
    if !max_items(field, items.len(), limits.max_attachments, v) {
        return Vec::new();
    }
    items
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let f = format!("{field}[{i}]");
            in_range(
                &format!("{f}.size_bytes"),
                a.size_bytes,
                0..=limits.max_attachment_bytes,
                v,
            );
            Attachment {
                file_name: text(&format!("{f}.file_name"), &a.file_name, 255, true, v),
                content_type: text(&format!("{f}.content_type"), &a.content_type, 255, true, v),
                size_bytes: a.size_bytes,
                uri: text(&format!("{f}.uri"), &a.uri, 2000, true, v),
            }
        })
        .collect()
}

/// 1..=5, or 0 (not answered) when `optional`.
pub fn score(field: &str, n: i32, optional: bool, v: &mut Violations) {
    if !((1..=5).contains(&n) || (optional && n == 0)) {
        v.add(
            field,
            if optional {
                "must be 0 (not answered) or 1..5"
            } else {
                "must be 1..5"
            },
        );
    }
}

/// Keeps the violations of `all` that concern a field named in `mask` (`{prefix}.{field}`,
/// `{prefix}.{field}[..]`, ...): an update may send a partial resource.
fn masked(all: Violations, prefix: &str, mask: &UpdateMask, v: &mut Violations) {
    for x in all.iter() {
        let rest = x
            .field
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('.'))
            .unwrap_or(&x.field);
        let top = rest.split(['.', '[']).next().unwrap_or_default();
        if mask.contains(top) {
            v.add(x.field.clone(), x.description.clone());
        }
    }
}

/// `value` when `field` is in the mask.
fn pick<T>(mask: &UpdateMask, field: &str, value: T) -> Option<T> {
    mask.contains(field).then_some(value)
}

/// The message when present, else a violation.
fn required<'a, T>(field: &str, m: Option<&'a T>, v: &mut Violations) -> Option<&'a T> {
    if m.is_none() {
        v.add(field, "is required");
    }
    m
}

// ---- tickets ----------------------------------------------------------------------------

/// What a caller writes on a ticket, parsed whole (an update keeps the masked fields).
struct TicketFields {
    customer: Option<CustomerId>,
    channel: Option<Channel>,
    category: Option<Category>,
    priority: Option<Priority>,
    subject: String,
    description: String,
    tags: Vec<String>,
    order_id: String,
    booking_id: String,
}

fn ticket_fields(t: &pb::Ticket, limits: &Limits, v: &mut Violations) -> TicketFields {
    TicketFields {
        customer: customer("ticket.customer", &t.customer, v),
        channel: required_enum("ticket.channel", t.channel, v),
        category: required_enum("ticket.category", t.category, v),
        priority: opt_enum("ticket.priority", t.priority, v),
        subject: text("ticket.subject", &t.subject, 200, true, v),
        description: multiline("ticket.description", &t.description, MAX_TEXT, false, v),
        tags: labels("ticket.tags", &t.tags, limits.max_tags, v),
        order_id: text("ticket.order_id", &t.order_id, 128, false, v),
        booking_id: text("ticket.booking_id", &t.booking_id, 128, false, v),
    }
}

/// CreateTicket's ticket (priority defaults to normal).
pub fn new_ticket(
    t: Option<&pb::Ticket>,
    limits: &Limits,
    v: &mut Violations,
) -> Option<NewTicket> {
    let f = ticket_fields(required("ticket", t, v)?, limits, v);
    let ((customer, channel), category) = f.customer.zip(f.channel).zip(f.category)?;
    Some(NewTicket {
        customer,
        channel,
        category,
        priority: f.priority.unwrap_or(Priority::Normal),
        subject: f.subject,
        description: f.description,
        tags: f.tags,
        order_id: f.order_id,
        booking_id: f.booking_id,
    })
}

/// UpdateTicket's changes: the masked fields of `t`.
pub fn ticket_patch(
    t: &pb::Ticket,
    mask: &UpdateMask,
    limits: &Limits,
    v: &mut Violations,
) -> TicketPatch {
    let mut all = Violations::new();
    let f = ticket_fields(t, limits, &mut all);
    masked(all, "ticket", mask, v);
    if mask.contains("priority") && t.priority == 0 {
        v.add("ticket.priority", "is required");
    }
    TicketPatch {
        category: pick(mask, "category", f.category).flatten(),
        priority: pick(mask, "priority", f.priority).flatten(),
        subject: pick(mask, "subject", f.subject),
        description: pick(mask, "description", f.description),
        tags: pick(mask, "tags", f.tags),
        order_id: pick(mask, "order_id", f.order_id),
        booking_id: pick(mask, "booking_id", f.booking_id),
    }
}

/// ListTickets' filters.
pub fn ticket_query(r: &pb::ListTicketsRequest, v: &mut Violations) -> TicketQuery {
    let q = TicketQuery {
        status: opt_enum("status", r.status, v),
        priority: opt_enum("priority", r.priority, v),
        team: opt("team", &r.team, TeamId::parse_name, v),
        assignee: opt("assignee", &r.assignee, AgentId::parse_name, v),
        customer: opt("customer", &r.customer, CustomerId::parse_name, v),
        channel: opt_enum("channel", r.channel, v),
        category: opt_enum("category", r.category, v),
        sla_state: opt_enum("sla_state", r.sla_state, v),
        created_after: validate::opt_timestamp("created_after", r.created_after.as_ref(), v),
        created_before: validate::opt_timestamp("created_before", r.created_before.as_ref(), v),
    };
    if let (Some(a), Some(b)) = (q.created_after, q.created_before)
        && b <= a
    {
        v.add("created_before", "must be after created_after");
    }
    q
}

/// AddMessage's message (system messages are the service's own).
pub fn new_message(
    m: Option<&pb::Message>,
    limits: &Limits,
    v: &mut Violations,
) -> Option<NewMessage> {
    let m = required("message", m, v)?;
    let kind: Option<MessageKind> = required_enum("message.kind", m.kind, v);
    if kind == Some(MessageKind::System) {
        v.add(
            "message.kind",
            "SYSTEM messages are written by the service only",
        );
    }
    let author = if let Ok(a) = AgentId::parse_name(&m.author) {
        Some(Author::Agent(a))
    } else if let Ok(c) = CustomerId::parse_name(&m.author) {
        if kind == Some(MessageKind::InternalNote) {
            v.add("message.author", "internal notes are written by agents");
        }
        Some(Author::Customer(c))
    } else {
        v.add(
            "message.author",
            "must be `agents/{uuid}` or `customers/{uuid}`",
        );
        None
    };
    let body = multiline("message.body", &m.body, MAX_TEXT, true, v);
    let attachments = attachments("message.attachments", &m.attachments, limits, v);
    let (kind, author) = kind.zip(author)?;
    Some(NewMessage {
        kind,
        author,
        body,
        attachments,
    })
}

/// SubmitSatisfaction's answer for `ticket`.
pub fn satisfaction(
    ticket: Option<TicketId>,
    s: Option<&pb::Satisfaction>,
    v: &mut Violations,
) -> Option<Satisfaction> {
    let s = required("satisfaction", s, v)?;
    score("satisfaction.overall", s.overall, false, v);
    score("satisfaction.service", s.service, true, v);
    score("satisfaction.product_quality", s.product_quality, true, v);
    score("satisfaction.logistics", s.logistics, true, v);
    let comment = multiline("satisfaction.comment", &s.comment, 2000, false, v);
    Some(Satisfaction {
        ticket: ticket?,
        survey: 0,
        survey_token: String::new(),
        overall: s.overall,
        service: s.service,
        product_quality: s.product_quality,
        logistics: s.logistics,
        comment,
        submit_time: now(),
        goodwill_points: 0,
        goodwill_pending: false,
    })
}

// ---- teams, agents, macros --------------------------------------------------------------

fn team_fields(
    t: &pb::Team,
    v: &mut Violations,
) -> (
    String,
    RoutingStrategy,
    Vec<Category>,
    BTreeMap<Category, String>,
) {
    let display = text("team.display_name", &t.display_name, 200, true, v);
    let strategy = opt_enum("team.routing_strategy", t.routing_strategy, v)
        .unwrap_or(RoutingStrategy::LeastLoaded);
    let mut cats = Vec::new();
    // Each category at most once is all there is; a longer list is not looked at.
    let all = Category::ALL.len();
    let categories = if max_items("team.categories", t.categories.len(), all, v) {
        t.categories.as_slice()
    } else {
        &[]
    };
    let skill_entries = max_items("team.category_skills", t.category_skills.len(), all, v);
    for (i, c) in categories.iter().enumerate() {
        if let Some(c) = required_enum::<Category>(&format!("team.categories[{i}]"), *c, v)
            && !cats.contains(&c)
        {
            cats.push(c);
        }
    }
    let mut skills = BTreeMap::new();
    for (k, s) in t.category_skills.iter().filter(|_| skill_entries) {
        let f = format!("team.category_skills[{k}]");
        let cat = k
            .strip_prefix("CATEGORY_")
            .and_then(|x| Category::parse(&x.to_ascii_lowercase()));
        match cat {
            Some(c) => {
                let l = labels(&f, std::slice::from_ref(s), 1, v);
                if let Some(skill) = l.into_iter().next() {
                    skills.insert(c, skill);
                }
            }
            None => v.add(f, "key must be a Category value name, e.g. CATEGORY_REPAIR"),
        }
    }
    (display, strategy, cats, skills)
}

/// CreateTeam's team (the service sets the id and times).
pub fn new_team(t: Option<&pb::Team>, v: &mut Violations) -> Option<Team> {
    let t = required("team", t, v)?;
    let (display_name, routing_strategy, categories, category_skills) = team_fields(t, v);
    let now = now();
    Some(Team {
        id: TeamId::generate(),
        display_name,
        routing_strategy,
        categories,
        category_skills,
        escalation_team: t.escalation_team,
        create_time: now,
        update_time: now,
        revision: 1,
    })
}

/// UpdateTeam's changes: the masked fields of `t`.
pub fn team_patch(t: &pb::Team, mask: &UpdateMask, v: &mut Violations) -> TeamPatch {
    let mut all = Violations::new();
    let (display_name, strategy, cats, skills) = team_fields(t, &mut all);
    masked(all, "team", mask, v);
    TeamPatch {
        display_name: pick(mask, "display_name", display_name),
        routing_strategy: pick(mask, "routing_strategy", strategy),
        categories: pick(mask, "categories", cats),
        category_skills: pick(mask, "category_skills", skills),
        escalation_team: pick(mask, "escalation_team", t.escalation_team),
    }
}

struct AgentFields {
    display_name: String,
    email: String,
    team: Option<TeamId>,
    skills: Vec<String>,
}

fn agent_fields(a: &pb::Agent, limits: &Limits, v: &mut Violations) -> AgentFields {
    let display_name = text("agent.display_name", &a.display_name, 200, true, v);
    let email = text("agent.email", &a.email, 254, false, v);
    let plausible = email.contains('@') && !email.starts_with('@') && !email.ends_with('@');
    if !email.is_empty() && !plausible {
        v.add("agent.email", "is not an e-mail address");
    }
    let team = team("agent.team", &a.team, v);
    let skills = labels("agent.skills", &a.skills, limits.max_skills, v);
    in_range(
        "agent.max_open_tickets",
        i64::from(a.max_open_tickets),
        1..=limits.max_agent_capacity,
        v,
    );
    AgentFields {
        display_name,
        email,
        team,
        skills,
    }
}

/// CreateAgent's agent (the service sets the id, load and times).
pub fn new_agent(a: Option<&pb::Agent>, limits: &Limits, v: &mut Violations) -> Option<Agent> {
    let a = required("agent", a, v)?;
    let f = agent_fields(a, limits, v);
    let now = now();
    Some(Agent {
        id: AgentId::generate(),
        display_name: f.display_name,
        email: f.email,
        team: f.team?,
        skills: f.skills,
        max_open_tickets: a.max_open_tickets,
        available: a.available,
        open_tickets: 0,
        last_assigned: None,
        create_time: now,
        update_time: now,
        revision: 1,
    })
}

/// UpdateAgent's changes: the masked fields of `a`.
pub fn agent_patch(
    a: &pb::Agent,
    mask: &UpdateMask,
    limits: &Limits,
    v: &mut Violations,
) -> AgentPatch {
    let mut all = Violations::new();
    let f = agent_fields(a, limits, &mut all);
    masked(all, "agent", mask, v);
    AgentPatch {
        display_name: pick(mask, "display_name", f.display_name),
        email: pick(mask, "email", f.email),
        team: pick(mask, "team", f.team).flatten(),
        skills: pick(mask, "skills", f.skills),
        max_open_tickets: pick(mask, "max_open_tickets", a.max_open_tickets),
        available: pick(mask, "available", a.available),
    }
}

/// CreateMacro's macro (a body with well-formed placeholders).
pub fn new_macro(m: Option<&pb::Macro>, v: &mut Violations) -> Option<Macro> {
    let m = required("macro", m, v)?;
    v.check("macro.code", check_macro_code(&m.code));
    let title = text("macro.title", &m.title, 200, true, v);
    let body = multiline("macro.body", &m.body, MAX_TEXT, true, v);
    v.check("macro.body", macros::validate(&body));
    Some(Macro {
        code: m.code.clone(),
        title,
        body,
        create_time: now(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        crate::Settings::load(None)
            .expect("defaults")
            .tickets
            .limits
    }

    fn fields(v: &Violations) -> Vec<String> {
        v.iter().map(|x| x.field.clone()).collect()
    }

    #[test]
    fn a_list_over_its_bound_is_one_violation() {
        let mut v = Violations::new();
        let many: Vec<String> = (0..100_000).map(|i| format!("Bad Tag {i}")).collect();
        assert!(labels("tags", &many, 20, &mut v).is_empty());
        assert_eq!(fields(&v), ["tags"]);
        let mut v = Violations::new();
        let tags = ["a".to_owned(), "a".to_owned(), "b-1".to_owned()];
        assert_eq!(labels("tags", &tags, 3, &mut v), ["a", "b-1"]);
        labels("tags", &["a\0".to_owned()], 3, &mut v);
        assert_eq!(fields(&v), ["tags[0]"]);
    }

    #[test]
    fn attachments_are_bounded() {
        let l = limits();
        let ok = pb::Attachment {
            file_name: "a.jpg".into(),
            content_type: "image/jpeg".into(),
            size_bytes: l.max_attachment_bytes,
            uri: "https://x/a.jpg".into(),
        };
        let mut v = Violations::new();
        assert_eq!(
            attachments("a", std::slice::from_ref(&ok), &l, &mut v).len(),
            1
        );
        assert!(v.is_empty());
        let too_big = pb::Attachment {
            size_bytes: l.max_attachment_bytes + 1,
            ..ok.clone()
        };
        let negative = pb::Attachment {
            size_bytes: -1,
            file_name: "tab\tname".into(),
            ..ok.clone()
        };
        attachments("a", &[too_big, negative], &l, &mut v);
        assert_eq!(
            fields(&v),
            ["a[0].size_bytes", "a[1].size_bytes", "a[1].file_name"]
        );
        let mut v = Violations::new();
        attachments("a", &vec![ok; l.max_attachments + 1], &l, &mut v);
        assert_eq!(fields(&v), ["a"]);
    }

    #[test]
    fn tokens_and_etags_are_one_bounded_line() {
        let mut v = Violations::new();
        survey_token("", &mut v);
        etag("etag", "1\0", &mut v);
        etag("long", &"9".repeat(65), &mut v);
        page(-1, &"x".repeat(MAX_PAGE_TOKEN + 1), &mut v);
        assert_eq!(
            fields(&v),
            ["survey_token", "etag", "long", "page_token", "page_size"]
        );
        let mut ok = Violations::new();
        etag("etag", "", &mut ok);
        assert_eq!(page(0, "", &mut ok), 0);
        assert!(ok.is_empty());
    }
}
