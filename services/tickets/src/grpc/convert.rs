//! Domain -> proto.
use crate::domain::{Agent, Macro, Message, Satisfaction, Team, Ticket, now};
use crate::service::{DurationStats, GroupStats, TicketStats};
use crm_platform::etag;
use crm_platform::validate::to_timestamp;
use crm_proto::tickets as pb;

/// A ticket as callers see it; the SLA state is computed at the time of the call.
pub fn ticket(t: &Ticket) -> pb::Ticket {
    let at = now();
    pb::Ticket {
        name: t.id.name(),
        customer: t.customer.name(),
        channel: t.channel.code(),
        category: t.category.code(),
        priority: t.priority.code(),
        status: t.status.code(),
        subject: t.subject.clone(),
        description: t.description.clone(),
        tags: t.tags.clone(),
        team: t.team.map(|x| x.name()).unwrap_or_default(),
        assignee: t.assignee.map(|x| x.name()).unwrap_or_default(),
        order_id: t.order_id.clone(),
        booking_id: t.booking_id.clone(),
        customer_check: t.customer_check.code(),
        sla: Some(pb::Sla {
            policy: t.sla.policy.clone(),
            state: t.sla.state(at).code(),
            first_response_due: t.sla.first_response_due.map(to_timestamp),
            next_response_due: t.sla.next_response_due.map(to_timestamp),
            resolution_due: t.sla.resolution_due.map(to_timestamp),
            paused: t.sla.paused_since.is_some(),
            missed_targets: t
                .sla
                .missed_targets()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }),
        create_time: Some(to_timestamp(t.create_time)),
        update_time: Some(to_timestamp(t.update_time)),
        first_response_time: t.first_response_time.map(to_timestamp),
        solve_time: t.solve_time.map(to_timestamp),
        close_time: t.close_time.map(to_timestamp),
        merged_into: t.merged_into.map(|x| x.name()).unwrap_or_default(),
        merged_from: t.merged_from.iter().map(|x| x.name()).collect(),
        escalations: t.escalations,
        survey_token: t.survey_token.clone(),
        etag: etag::of_revision(t.revision),
    }
}

pub fn message(m: &Message) -> pb::Message {
    pb::Message {
        name: m.name(),
        kind: m.kind.code(),
        author: m.author.name(),
        body: m.body.clone(),
        attachments: m
            .attachments
            .iter()
            .map(|a| pb::Attachment {
                file_name: a.file_name.clone(),
                content_type: a.content_type.clone(),
                size_bytes: a.size_bytes,
                uri: a.uri.clone(),
            })
            .collect(),
        create_time: Some(to_timestamp(m.create_time)),
        origin_ticket: m.origin_ticket.map(|x| x.name()).unwrap_or_default(),
    }
}

pub fn team(t: &Team) -> pb::Team {
    pb::Team {
        name: t.id.name(),
        display_name: t.display_name.clone(),
        routing_strategy: t.routing_strategy.code(),
        categories: t.categories.iter().map(|c| c.code()).collect(),
        category_skills: t
            .category_skills
            .iter()
            .map(|(c, s)| (category_key(*c), s.clone()))
            .collect(),
        escalation_team: t.escalation_team,
        create_time: Some(to_timestamp(t.create_time)),
        update_time: Some(to_timestamp(t.update_time)),
        etag: etag::of_revision(t.revision),
    }
}

/// `CATEGORY_REPAIR` for the category_skills map.
pub fn category_key(c: crate::domain::Category) -> String {
    format!("CATEGORY_{}", c.as_str().to_ascii_uppercase())
}

pub fn agent(a: &Agent) -> pb::Agent {
    pb::Agent {
        name: a.id.name(),
        display_name: a.display_name.clone(),
        email: a.email.clone(),
        team: a.team.name(),
        skills: a.skills.clone(),
        max_open_tickets: a.max_open_tickets,
        available: a.available,
        open_tickets: a.open_tickets,
        create_time: Some(to_timestamp(a.create_time)),
        update_time: Some(to_timestamp(a.update_time)),
        etag: etag::of_revision(a.revision),
    }
}

pub fn macro_(m: &Macro) -> pb::Macro {
    pb::Macro {
        name: m.name(),
        code: m.code.clone(),
        title: m.title.clone(),
        body: m.body.clone(),
        create_time: Some(to_timestamp(m.create_time)),
    }
}

pub fn satisfaction(s: &Satisfaction) -> pb::Satisfaction {
    pb::Satisfaction {
        ticket: s.ticket.name(),
        overall: s.overall,
        service: s.service,
        product_quality: s.product_quality,
        logistics: s.logistics,
        comment: s.comment.clone(),
        submit_time: Some(to_timestamp(s.submit_time)),
        goodwill_points: s.goodwill_points,
        goodwill_pending: s.goodwill_pending,
    }
}

fn enum_keys(
    m: &std::collections::BTreeMap<String, i64>,
    prefix: &str,
) -> std::collections::BTreeMap<String, i64> {
    m.iter()
        .map(|(k, v)| (format!("{prefix}_{}", k.to_ascii_uppercase()), *v))
        .collect()
}

fn durations(d: &DurationStats) -> pb::DurationStats {
    pb::DurationStats {
        count: d.count,
        median_seconds: d.median_seconds,
        p90_seconds: d.p90_seconds,
        business_median_seconds: d.business_median_seconds,
        business_p90_seconds: d.business_p90_seconds,
    }
}

fn group(g: &GroupStats) -> pb::GroupStats {
    pb::GroupStats {
        group: g.group.clone(),
        volume: g.volume,
        by_channel: enum_keys(&g.by_channel, "CHANNEL"),
        by_category: enum_keys(&g.by_category, "CATEGORY"),
        by_priority: enum_keys(&g.by_priority, "PRIORITY"),
        first_response: Some(durations(&g.first_response)),
        resolution: Some(durations(&g.resolution)),
        sla_hit_rate: g.sla_hit_rate,
        backlog: g.backlog,
        csat_responses: g.csat_responses,
        csat_average: g.csat_average,
        csat_distribution: g.csat_distribution.clone(),
    }
}

pub fn stats(s: &TicketStats) -> pb::TicketStats {
    pb::TicketStats {
        start_time: Some(to_timestamp(s.start)),
        end_time: Some(to_timestamp(s.end)),
        total: Some(group(&s.total)),
        teams: s.teams.iter().map(group).collect(),
        agents: s.agents.iter().map(group).collect(),
    }
}
