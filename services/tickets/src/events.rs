//! The events tickets publishes (`crm.events.v1`, README "Events"): one named conversion per
//! fact, domain -> payload, and [`TicketEvents`], which writes them to the outbox in the
//! transaction of the change they report. No payload carries a subject, description,
//! message, comment or anything else a customer wrote.
use crate::domain::{CustomerId, Satisfaction, Status, Target, Ticket, TicketId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::events::Events;
use crm_platform::validate::to_timestamp;
use crm_proto::events as ev;
use ev::event::Payload;
use sea_orm::ConnectionTrait;

/// The name ErasureCompleted gives this service (its envelope `source` too).
pub const SERVICE: &str = "tickets";

/// Tickets' handle on the backbone: typed events of source "tickets" into the outbox.
#[derive(Clone)]
pub struct TicketEvents {
    events: Events,
}

impl TicketEvents {
    pub fn new(events: Events) -> Self {
        Self { events }
    }

    /// Appends `payloads` about `ticket` in `txn`, after the write they report (so the
    /// ticket's events are in commit order). Nothing is written for no payloads.
    pub async fn append(
        &self,
        txn: &impl ConnectionTrait,
        ticket: TicketId,
        payloads: Vec<Payload>,
    ) -> Result<(), Error> {
        self.events.append(txn, ticket.name(), payloads).await?;
        Ok(())
    }

    /// Appends a fact about a customer (an erasure's completion), subject the customer.
    pub async fn append_about(
        &self,
        txn: &impl ConnectionTrait,
        customer: &str,
        payload: Payload,
    ) -> Result<(), Error> {
        self.events.append(txn, customer, vec![payload]).await?;
        Ok(())
    }
}

/// A new ticket (a complaint opened is one with category COMPLAINT).
pub fn created(t: &Ticket) -> Payload {
    Payload::TicketCreated(ev::TicketCreated {
        ticket: t.id.name(),
        customer: t.customer.name(),
        channel: t.channel.code(),
        category: t.category.code(),
        priority: t.priority.code(),
        order_id: t.order_id.clone(),
        team: t.team.map(|x| x.name()).unwrap_or_default(),
        create_time: Some(to_timestamp(t.create_time)),
    })
}

/// The facts of `t` having moved from `from` to its status at `now` by `actor` (empty: the
/// service): none when it did not move, the status change, and a solve's own fact.
pub fn moved(from: Status, t: &Ticket, actor: &str, now: DateTime<Utc>) -> Vec<Payload> {
    if from == t.status {
        return Vec::new();
    }
    let mut out = vec![Payload::TicketStatusChanged(ev::TicketStatusChanged {
        ticket: t.id.name(),
        customer: t.customer.name(),
        from_status: from.code(),
        to_status: t.status.code(),
        actor: actor.to_owned(),
        change_time: Some(to_timestamp(now)),
    })];
    if t.status == Status::Solved {
        out.push(solved(t, now));
    }
    out
}

/// A solve (a complaint solved is one with category COMPLAINT).
fn solved(t: &Ticket, now: DateTime<Utc>) -> Payload {
    let solve_time = t.solve_time.unwrap_or(now);
    Payload::TicketSolved(ev::TicketSolved {
        ticket: t.id.name(),
        customer: t.customer.name(),
        category: t.category.code(),
        sla_state: t.sla.state(solve_time).code(),
        resolution_seconds: (solve_time - t.create_time).num_seconds().max(0),
        solve_time: Some(to_timestamp(solve_time)),
    })
}

/// One SLA target of `t` missed (due at `due`), noticed at `at`.
pub fn sla_breached(t: &Ticket, target: Target, due: DateTime<Utc>, at: DateTime<Utc>) -> Payload {
    Payload::TicketSlaBreached(ev::TicketSlaBreached {
        ticket: t.id.name(),
        customer: t.customer.name(),
        policy: t.sla.policy.clone(),
        target: target.as_str().to_owned(),
        due_time: Some(to_timestamp(due)),
        breach_time: Some(to_timestamp(at)),
    })
}

/// A survey answer: its scores and the goodwill points it earned (loyalty awards them);
/// never the comment.
pub fn satisfaction_submitted(customer: CustomerId, s: &Satisfaction) -> Payload {
    Payload::SatisfactionSubmitted(ev::SatisfactionSubmitted {
        ticket: s.ticket.name(),
        customer: customer.name(),
        survey_token: s.survey_token.clone(),
        overall: s.overall,
        service: s.service,
        product_quality: s.product_quality,
        logistics: s.logistics,
        goodwill_points: s.goodwill_points,
        submit_time: Some(to_timestamp(s.submit_time)),
    })
}

/// Tickets' answer to the CustomerErased event `erasure_event_id` about `customer`.
pub fn erasure_completed(
    customer: &str,
    erasure_event_id: &str,
    scrubbed_records: u64,
    now: DateTime<Utc>,
) -> Payload {
    Payload::ErasureCompleted(ev::ErasureCompleted {
        service: SERVICE.to_owned(),
        customer: customer.to_owned(),
        erasure_event_id: erasure_event_id.to_owned(),
        complete_time: Some(to_timestamp(now)),
        scrubbed_records: i64::try_from(scrubbed_records).unwrap_or(i64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{at, solved_at, ticket};

    #[test]
    fn a_status_move_is_published_with_its_solve_and_no_move_is_not() {
        let open = ticket(Status::Open);
        assert_eq!(moved(Status::Open, &open, "agents/x", at(1)), []);
        let [Payload::TicketStatusChanged(c)] = &moved(Status::New, &open, "", at(1))[..] else {
            panic!("one status change")
        };
        assert_eq!((c.from_status, c.to_status), (1, 2));
        let solved = solved_at(3);
        let facts = moved(Status::Open, &solved, "api", at(4));
        let [Payload::TicketStatusChanged(_), Payload::TicketSolved(s)] = &facts[..] else {
            panic!("a move and a solve: {facts:?}")
        };
        assert_eq!(
            (s.category, s.solve_time, s.resolution_seconds),
            (
                solved.category.code(),
                Some(to_timestamp(at(3))),
                (at(3) - solved.create_time).num_seconds()
            )
        );
    }
}
