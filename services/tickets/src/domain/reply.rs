//! What a new message does to its ticket: an agent's public reply meets the response targets,
//! a customer's reply resumes a pending ticket, reopens a recently solved one and owes an
//! answer; notes change nothing. Decided by [`plan`] from the ticket as loaded, applied by
//! [`Effects::apply`] once the caller has checked the author exists.
use super::status::{self, Capacity, TransitionError};
use super::{AgentId, Author, CustomerId, MessageKind, SlaRules, Status, Target, Ticket};
use chrono::{DateTime, Duration, Utc};

/// Why a message cannot be posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Closed tickets take no messages.
    Closed,
    /// A customer replied on another customer's ticket.
    NotTheCustomer(CustomerId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effects {
    /// An agent's public reply: the first one stamps the first response and meets its
    /// target, a later one meets the next-response target; a new ticket opens.
    AgentReply {
        agent: AgentId,
        first: bool,
        opens: bool,
    },
    /// The customer's public reply: a pending ticket resumes (clock and status), a solved one
    /// reopens within the window; an answer is owed.
    CustomerReply { resumes: bool, reopens: bool },
    /// An agent's internal note: nothing changes.
    AgentNote { agent: AgentId },
    /// Anything else (the service's own system notes).
    Nothing,
}

/// What a message of `kind` by `author` does to `t` at `now`.
pub fn plan(
    t: &Ticket,
    kind: MessageKind,
    author: &Author,
    now: DateTime<Utc>,
    reopen_window: Duration,
) -> Result<Effects, Refusal> {
    if t.status == Status::Closed {
        return Err(Refusal::Closed);
    }
    Ok(match (kind, author) {
        (MessageKind::PublicReply, Author::Agent(agent)) => Effects::AgentReply {
            agent: *agent,
            first: t.first_response_time.is_none(),
            opens: t.status == Status::New,
        },
        (MessageKind::PublicReply, Author::Customer(c)) => {
            if *c != t.customer {
                return Err(Refusal::NotTheCustomer(*c));
            }
            Effects::CustomerReply {
                resumes: t.status == Status::PendingCustomer,
                reopens: t.status == Status::Solved
                    && t.solve_time.is_some()
                    && !status::window_passed(t.solve_time, now, reopen_window),
            }
        }
        (MessageKind::InternalNote, Author::Agent(agent)) => Effects::AgentNote { agent: *agent },
        _ => Effects::Nothing,
    })
}

impl Effects {
    /// The agent who wrote the message: it must exist for the message to be posted.
    pub fn author_agent(&self) -> Option<AgentId> {
        match self {
            Effects::AgentReply { agent, .. } | Effects::AgentNote { agent } => Some(*agent),
            Effects::CustomerReply { .. } | Effects::Nothing => None,
        }
    }

    /// Applies the effects to `t` (as planned, at the same `now`); a reopen is a full status
    /// move, whose capacity change the caller applies.
    pub fn apply(
        self,
        t: &mut Ticket,
        now: DateTime<Utc>,
        sla: SlaRules<'_>,
    ) -> Result<Capacity, TransitionError> {
        let mut capacity = Capacity::Unchanged;
        match self {
            Effects::AgentReply { first, opens, .. } => {
                if first {
                    t.first_response_time = Some(now);
                    t.sla.met(Target::FirstResponse, now);
                } else {
                    t.sla.met(Target::NextResponse, now);
                }
                if opens {
                    t.status = Status::Open;
                }
            }
            Effects::CustomerReply { resumes, reopens } => {
                if resumes {
                    t.sla.resume(sla.calendar, now);
                    t.status = Status::Open;
                }
                if reopens {
                    // The window was checked when planning.
                    capacity = status::apply(t, Status::Open, now, None, sla)?;
                }
                t.sla.owe_reply(sla.policy, sla.calendar, now);
            }
            Effects::AgentNote { .. } | Effects::Nothing => {}
        }
        Ok(capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{
        agent, at, calendar, customer, policy, rules, solved_at, ticket,
    };
    use Status::*;

    fn answered(status: Status) -> Ticket {
        let mut t = ticket(status);
        t.first_response_time = Some(at(0));
        t.sla.met(Target::FirstResponse, at(0));
        t
    }

    fn pending() -> Ticket {
        let mut t = answered(PendingCustomer);
        t.sla.pause(at(1));
        t
    }

    fn never_solved_time(mut t: Ticket) -> Ticket {
        t.solve_time = None;
        t
    }

    fn closed() -> Ticket {
        let mut t = solved_at(1);
        t.status = Closed;
        t
    }

    /// (case, ticket, kind, author, at hour, reopen window, what follows)
    type Case<'a> = (
        &'static str,
        Ticket,
        MessageKind,
        &'a Author,
        i64,
        Duration,
        Result<Effects, Refusal>,
    );

    #[test]
    fn what_a_message_does() {
        use Effects::*;
        use MessageKind::{InternalNote, PublicReply, System};
        let a = Author::Agent(agent(1));
        let me = Author::Customer(customer());
        let other = CustomerId(uuid::Uuid::from_u128(99));
        let stranger = Author::Customer(other);
        let w = Duration::hours(72);
        let reply = |first, opens| AgentReply {
            agent: agent(1),
            first,
            opens,
        };
        let theirs = |resumes, reopens| CustomerReply { resumes, reopens };
        // (case, ticket, kind, author, at, window, effects or refusal)
        #[rustfmt::skip]
        let table: Vec<Case> = vec![
            ("first agent reply opens a new ticket", ticket(New), PublicReply, &a, 0, w, Ok(reply(true, true))),
            ("first agent reply on an open ticket", ticket(Open), PublicReply, &a, 0, w, Ok(reply(true, false))),
            ("later agent reply", answered(Open), PublicReply, &a, 1, w, Ok(reply(false, false))),
            ("agent reply while pending", pending(), PublicReply, &a, 2, w, Ok(reply(false, false))),
            ("agent reply on hold", answered(OnHold), PublicReply, &a, 2, w, Ok(reply(false, false))),
            ("agent reply on a solved ticket does not reopen", solved_at(1), PublicReply, &a, 2, w, Ok(reply(false, false))),
            ("agent note", ticket(New), InternalNote, &a, 0, w, Ok(AgentNote { agent: agent(1) })),
            ("agent note on a solved ticket", solved_at(1), InternalNote, &a, 2, w, Ok(AgentNote { agent: agent(1) })),
            ("customer reply on a new ticket", ticket(New), PublicReply, &me, 0, w, Ok(theirs(false, false))),
            ("customer reply on an open ticket", answered(Open), PublicReply, &me, 1, w, Ok(theirs(false, false))),
            ("customer answers a pending ticket", pending(), PublicReply, &me, 2, w, Ok(theirs(true, false))),
            ("customer reply on hold", answered(OnHold), PublicReply, &me, 2, w, Ok(theirs(false, false))),
            ("customer reopens just after the solve", solved_at(1), PublicReply, &me, 1, w, Ok(theirs(false, true))),
            ("customer reopens within the window", solved_at(1), PublicReply, &me, 40, w, Ok(theirs(false, true))),
            ("customer reopens exactly at the window end", solved_at(1), PublicReply, &me, 73, w, Ok(theirs(false, true))),
            ("customer reply after the window only owes an answer", solved_at(1), PublicReply, &me, 74, w, Ok(theirs(false, false))),
            ("no window: only the instant of the solve reopens", solved_at(1), PublicReply, &me, 1, Duration::zero(), Ok(theirs(false, true))),
            ("no window: an hour later does not", solved_at(1), PublicReply, &me, 2, Duration::zero(), Ok(theirs(false, false))),
            ("solved without a solve time is not reopened", never_solved_time(solved_at(1)), PublicReply, &me, 2, w, Ok(theirs(false, false))),
            ("another customer", answered(Open), PublicReply, &stranger, 1, w, Err(Refusal::NotTheCustomer(other))),
            ("another customer on a solved ticket", solved_at(1), PublicReply, &stranger, 2, w, Err(Refusal::NotTheCustomer(other))),
            ("closed: agent reply", closed(), PublicReply, &a, 2, w, Err(Refusal::Closed)),
            ("closed: customer reply", closed(), PublicReply, &me, 2, w, Err(Refusal::Closed)),
            ("closed: another customer", closed(), PublicReply, &stranger, 2, w, Err(Refusal::Closed)),
            ("closed: agent note", closed(), InternalNote, &a, 2, w, Err(Refusal::Closed)),
            ("closed: system note", closed(), System, &Author::System, 2, w, Err(Refusal::Closed)),
            ("system note", answered(Open), System, &Author::System, 1, w, Ok(Nothing)),
            ("customer note (refused by the adapter) does nothing", answered(Open), InternalNote, &me, 1, w, Ok(Nothing)),
            ("public reply by the system does nothing", answered(Open), PublicReply, &Author::System, 1, w, Ok(Nothing)),
        ];
        for (case, t, kind, author, h, window, want) in table {
            assert_eq!(plan(&t, kind, author, at(h), window), want, "{case}");
        }
    }

    /// What applying leaves: (status, first response time, first-response due, next-response
    /// due, resolution due, paused, missed targets, capacity).
    type After = (
        Status,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        bool,
        Vec<&'static str>,
        Capacity,
    );

    #[test]
    fn what_applying_does() {
        let (p, cal) = (policy(), calendar());
        let m = |minutes| at(0) + Duration::minutes(minutes);
        let a = Author::Agent(agent(1));
        let me = Author::Customer(customer());
        let w = Duration::hours(72);
        let unassigned = |mut t: Ticket| {
            t.assignee = None;
            t
        };
        // The fixture's targets: first response at hour 1, resolution at hour 10.
        // (case, ticket, author, at, what the ticket is then)
        #[rustfmt::skip]
        let table: Vec<(&str, Ticket, &Author, DateTime<Utc>, After)> = vec![
            ("first reply in time", ticket(New), &a, m(30),
                (Open, Some(m(30)), None, None, Some(at(10)), false, vec![], Capacity::Unchanged)),
            ("first reply late is a miss", ticket(New), &a, m(90),
                (Open, Some(m(90)), None, None, Some(at(10)), false, vec!["first_response"], Capacity::Unchanged)),
            ("customer writes before any answer: nothing more owed", ticket(New), &me, m(30),
                (New, None, Some(at(1)), None, Some(at(10)), false, vec![], Capacity::Unchanged)),
            ("customer writes after the answer: next reply owed in 2 hours", answered(Open), &me, at(3),
                (Open, Some(at(0)), None, Some(at(5)), Some(at(10)), false, vec![], Capacity::Unchanged)),
            ("pending customer answers: clock moves by the pause, reply owed", pending(), &me, at(4),
                (Open, Some(at(0)), None, Some(at(6)), Some(at(13)), false, vec![], Capacity::Unchanged)),
            ("reopened by the customer: fresh targets, assignee claimed", solved_at(1), &me, at(5),
                (Open, Some(at(0)), None, Some(at(7)), Some(at(15)), false, vec![], Capacity::Claim(agent(1)))),
            ("reopened, nobody assigned", unassigned(solved_at(1)), &me, at(5),
                (Open, Some(at(0)), None, Some(at(7)), Some(at(15)), false, vec![], Capacity::Unchanged)),
            ("after the window the solved ticket stays solved", solved_at(1), &me, at(80),
                (Solved, Some(at(0)), None, None, None, false, vec![], Capacity::Unchanged)),
        ];
        for (case, mut t, author, now, want) in table {
            let effects = plan(&t, MessageKind::PublicReply, author, now, w).expect(case);
            let capacity = effects.apply(&mut t, now, rules(&p, &cal)).expect(case);
            let got = (
                t.status,
                t.first_response_time,
                t.sla.first_response_due,
                t.sla.next_response_due,
                t.sla.resolution_due,
                t.sla.paused_since.is_some(),
                t.sla.missed_targets(),
                capacity,
            );
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn next_reply_met_late_is_a_miss_and_notes_change_nothing() {
        let (p, cal) = (policy(), calendar());
        let a = Author::Agent(agent(1));
        let mut t = answered(Open);
        let w = Duration::hours(72);
        let owe = plan(
            &t,
            MessageKind::PublicReply,
            &Author::Customer(customer()),
            at(1),
            w,
        );
        owe.expect("owe")
            .apply(&mut t, at(1), rules(&p, &cal))
            .expect("owe");
        assert_eq!(t.sla.next_response_due, Some(at(3)));
        let before = t.clone();
        let note = plan(&t, MessageKind::InternalNote, &a, at(4), w).expect("note");
        assert_eq!(note.author_agent(), Some(agent(1)));
        note.apply(&mut t, at(4), rules(&p, &cal)).expect("note");
        assert_eq!(t, before);
        let late = plan(&t, MessageKind::PublicReply, &a, at(4), w).expect("reply");
        late.apply(&mut t, at(4), rules(&p, &cal)).expect("reply");
        assert_eq!(t.sla.next_response_due, None);
        assert_eq!(t.sla.missed_targets(), ["next_response"]);
        let theirs = plan(
            &t,
            MessageKind::PublicReply,
            &Author::Customer(customer()),
            at(5),
            w,
        );
        assert_eq!(theirs.expect("customer").author_agent(), None);
    }
}
