//! CreateTicket, UpdateTicket, ListTickets and AddMessage requests.
use super::{MAX_TEXT, customer, labels, masked, opt, opt_enum, pick, required, required_enum};
use crate::domain::{
    AgentId, Attachment, Author, Category, Channel, CustomerId, MessageKind, NewTicket, Priority,
    TeamId, TicketPatch, TicketQuery,
};
use crate::service::NewMessage;
use crate::settings::Limits;
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
use crm_platform::grpc::text;
use crm_platform::validate::{self, in_range, max_items, multiline};
use crm_proto::tickets as pb;

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
}
