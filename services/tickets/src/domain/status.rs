//! The status machine of a ticket, and what a move does to it.
use super::{AgentId, SlaRules, Status, Ticket};
use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a ticket cannot move from {} to {}", .0.as_str(), .1.as_str())]
    Illegal(Status, Status),
    #[error("a solved ticket can be reopened only within {0} hours of being solved")]
    ReopenWindowPassed(i64),
}

/// Whether `to` may follow `from` at all (the table in crm.tickets.v1.Status).
pub fn allowed(from: Status, to: Status) -> bool {
    use Status::*;
    match from {
        New => matches!(to, Open | PendingCustomer | OnHold | Solved | Closed),
        Open => matches!(to, PendingCustomer | OnHold | Solved | Closed),
        PendingCustomer => matches!(to, Open | OnHold | Solved | Closed),
        OnHold => matches!(to, Open | PendingCustomer | Solved | Closed),
        Solved => matches!(to, Open | Closed),
        Closed => false,
    }
}

/// Checks a move at `now`; reopening a solved ticket is allowed within `reopen_window`.
pub fn check(
    from: Status,
    to: Status,
    solve_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    reopen_window: Duration,
) -> Result<(), TransitionError> {
    if !allowed(from, to) {
        return Err(TransitionError::Illegal(from, to));
    }
    if from == Status::Solved && to == Status::Open && window_passed(solve_time, now, reopen_window)
    {
        return Err(TransitionError::ReopenWindowPassed(
            reopen_window.num_hours(),
        ));
    }
    Ok(())
}

/// Whether a ticket solved at `solve_time` is past its reopen window at `now` (the last
/// instant of the window still reopens; never solved: not past).
pub fn window_passed(
    solve_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    reopen_window: Duration,
) -> bool {
    solve_time.is_some_and(|t| now - t > reopen_window)
}

/// What a move does to the assignee's capacity (the store keeps the counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Unchanged,
    /// The ticket stopped counting against its assignee (solved or closed).
    Release(AgentId),
    /// The ticket counts again (reopened): claim it, or the ticket goes back to its team's
    /// queue when the agent is full.
    Claim(AgentId),
}

/// Moves `t` to `to` at `now` with every effect on the ticket: the SLA clock (paused while
/// pending, finished when solved or closed, restarted on a reopen), the solve and close times
/// and a new survey on each solve. `reopen_window`: how long after solving a caller may reopen
/// (None for the moves the service makes itself: a low score, a merge). Capacity follows
/// "open or not"; the caller applies the change it returns.
pub fn apply(
    t: &mut Ticket,
    to: Status,
    now: DateTime<Utc>,
    reopen_window: Option<Duration>,
    sla: SlaRules<'_>,
) -> Result<Capacity, TransitionError> {
    let from = t.status;
    check(
        from,
        to,
        t.solve_time,
        now,
        reopen_window.unwrap_or(Duration::MAX),
    )?;
    if from == Status::PendingCustomer {
        t.sla.resume(sla.calendar, now);
    }
    match to {
        Status::PendingCustomer => t.sla.pause(now),
        Status::Solved => {
            t.sla.finish(now);
            t.solve_time = Some(now);
            // Each solve issues a new survey; an earlier one stays as answered (or not).
            t.survey += 1;
            t.survey_token = uuid::Uuid::new_v4().simple().to_string();
        }
        Status::Closed => {
            if !t.sla.finished {
                t.sla.finish(now);
            }
            t.close_time = Some(now);
        }
        Status::Open if from == Status::Solved => t.sla.restart(sla.policy, sla.calendar, now),
        _ => {}
    }
    t.status = to;
    Ok(match (from.is_open(), to.is_open(), t.assignee) {
        (true, false, Some(a)) => Capacity::Release(a),
        (false, true, Some(a)) => Capacity::Claim(a),
        _ => Capacity::Unchanged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{agent, at, calendar, policy, rules, solved_at, ticket};
    use Status::*;

    #[test]
    fn transition_table() {
        // (from, to, allowed)
        let table = [
            (New, Open, true),
            (New, PendingCustomer, true),
            (New, OnHold, true),
            (New, Solved, true),
            (New, Closed, true),
            (New, New, false),
            (Open, New, false),
            (Open, Open, false),
            (Open, PendingCustomer, true),
            (Open, OnHold, true),
            (Open, Solved, true),
            (Open, Closed, true),
            (PendingCustomer, Open, true),
            (PendingCustomer, New, false),
            (PendingCustomer, OnHold, true),
            (PendingCustomer, Solved, true),
            (OnHold, Open, true),
            (OnHold, PendingCustomer, true),
            (OnHold, New, false),
            (Solved, Open, true),
            (Solved, Closed, true),
            (Solved, PendingCustomer, false),
            (Solved, OnHold, false),
            (Solved, New, false),
            (Closed, Open, false),
            (Closed, Solved, false),
            (Closed, New, false),
            (Closed, Closed, false),
        ];
        for (from, to, ok) in table {
            assert_eq!(allowed(from, to), ok, "{from:?} -> {to:?}");
        }
        // Every pair is covered by the rules: nothing moves back to New, nothing leaves Closed.
        for from in Status::ALL {
            assert!(!allowed(*from, New));
            assert!(!allowed(Closed, *from));
        }
    }

    #[test]
    fn reopen_window() {
        let solved = Utc::now();
        let w = Duration::hours(72);
        assert!(check(Solved, Open, Some(solved), solved + Duration::hours(71), w).is_ok());
        assert_eq!(
            check(Solved, Open, Some(solved), solved + Duration::hours(73), w),
            Err(TransitionError::ReopenWindowPassed(72))
        );
        // Closing is allowed any time.
        assert!(check(Solved, Closed, Some(solved), solved + Duration::days(30), w).is_ok());
        assert_eq!(
            check(Closed, Open, Some(solved), solved, w),
            Err(TransitionError::Illegal(Closed, Open))
        );
    }

    #[test]
    fn window_edges() {
        let w = Duration::hours(72);
        let solved = Some(at(0));
        // (solve time, now, passed)
        let table = [
            (solved, at(0), false),
            (solved, at(71), false),
            (solved, at(72), false),
            (solved, at(72) + Duration::microseconds(1), true),
            (solved, at(200), true),
            (None, at(200), false),
        ];
        for (i, (solve_time, now, passed)) in table.into_iter().enumerate() {
            assert_eq!(window_passed(solve_time, now, w), passed, "case {i}");
        }
        assert!(!window_passed(solved, at(0), Duration::zero()));
        assert!(window_passed(
            solved,
            at(0) + Duration::seconds(1),
            Duration::zero()
        ));
    }

    /// What a move leaves on the ticket: (status, SLA finished, SLA paused, solve time set,
    /// close time set, survey number, capacity).
    type After = (Status, bool, bool, bool, bool, i32, Capacity);
    /// (case, ticket, to, at hour, reopen window, what follows)
    type Case = (
        &'static str,
        Ticket,
        Status,
        i64,
        Option<Duration>,
        Result<After, TransitionError>,
    );

    fn after(t: &Ticket, c: Capacity) -> After {
        (
            t.status,
            t.sla.finished,
            t.sla.paused_since.is_some(),
            t.solve_time.is_some(),
            t.close_time.is_some(),
            t.survey,
            c,
        )
    }

    #[test]
    fn what_a_move_does() {
        let (p, cal) = (policy(), calendar());
        let a = agent(1);
        let w = Some(Duration::hours(72));
        let pending = || {
            let mut t = ticket(PendingCustomer);
            t.sla.pause(at(0));
            t
        };
        let closed = || {
            let mut t = solved_at(1);
            t.status = Closed;
            t.close_time = Some(at(2));
            t
        };
        let unassigned = |mut t: Ticket| {
            t.assignee = None;
            t
        };
        // (case, ticket, to, at, window, what the ticket is then, or the refusal)
        #[rustfmt::skip]
        let table: Vec<Case> = vec![
            ("new opens", ticket(New), Open, 1, w, Ok((Open, false, false, false, false, 0, Capacity::Unchanged))),
            ("open waits", ticket(Open), PendingCustomer, 1, w, Ok((PendingCustomer, false, true, false, false, 0, Capacity::Unchanged))),
            ("pending resumes", pending(), Open, 1, w, Ok((Open, false, false, false, false, 0, Capacity::Unchanged))),
            ("pending holds", pending(), OnHold, 1, w, Ok((OnHold, false, false, false, false, 0, Capacity::Unchanged))),
            ("open solves", ticket(Open), Solved, 1, w, Ok((Solved, true, false, true, false, 1, Capacity::Release(a)))),
            ("pending solves", pending(), Solved, 1, w, Ok((Solved, true, false, true, false, 1, Capacity::Release(a)))),
            ("unassigned solves", unassigned(ticket(Open)), Solved, 1, w, Ok((Solved, true, false, true, false, 1, Capacity::Unchanged))),
            ("open closes", ticket(Open), Closed, 1, w, Ok((Closed, true, false, false, true, 0, Capacity::Release(a)))),
            ("solved closes", solved_at(1), Closed, 500, w, Ok((Closed, true, false, true, true, 1, Capacity::Unchanged))),
            ("reopen in window", solved_at(1), Open, 40, w, Ok((Open, false, false, true, false, 1, Capacity::Claim(a)))),
            ("reopen at window end", solved_at(1), Open, 73, w, Ok((Open, false, false, true, false, 1, Capacity::Claim(a)))),
            ("reopen unassigned", unassigned(solved_at(1)), Open, 2, w, Ok((Open, false, false, true, false, 1, Capacity::Unchanged))),
            ("reopen past window", solved_at(1), Open, 74, w, Err(TransitionError::ReopenWindowPassed(72))),
            ("service reopens any time", solved_at(1), Open, 5000, None, Ok((Open, false, false, true, false, 1, Capacity::Claim(a)))),
            ("solved stays solved", solved_at(1), PendingCustomer, 2, w, Err(TransitionError::Illegal(Solved, PendingCustomer))),
            ("closed stays closed", closed(), Open, 3, w, Err(TransitionError::Illegal(Closed, Open))),
            ("closed stays closed for the service", closed(), Open, 3, None, Err(TransitionError::Illegal(Closed, Open))),
            ("nothing goes back to new", ticket(Open), New, 1, w, Err(TransitionError::Illegal(Open, New))),
        ];
        for (case, mut t, to, h, window, want) in table {
            let before = t.clone();
            let got = apply(&mut t, to, at(h), window, rules(&p, &cal)).map(|c| after(&t, c));
            assert_eq!(got, want, "{case}");
            if got.is_err() {
                assert_eq!(t, before, "{case}: a refused move changes nothing");
            }
        }
    }

    #[test]
    fn solving_issues_a_new_survey_and_reopening_restarts_the_clock() {
        let (p, cal) = (policy(), calendar());
        let mut t = solved_at(1);
        let first = t.survey_token.clone();
        apply(&mut t, Open, at(5), None, rules(&p, &cal)).expect("reopen");
        // A fresh resolution target (10 hours) and an answer owed within 2.
        assert_eq!(t.sla.resolution_due, Some(at(15)));
        assert_eq!(t.sla.next_response_due, Some(at(7)));
        apply(&mut t, Solved, at(6), None, rules(&p, &cal)).expect("solve");
        assert_eq!(t.survey, 2);
        assert_ne!(t.survey_token, first);
        assert_eq!(t.solve_time, Some(at(6)));
        // Pending: the clock stops; answered later, every due time moves by the pause.
        let mut t = ticket(Open);
        apply(&mut t, PendingCustomer, at(0), None, rules(&p, &cal)).expect("pend");
        apply(&mut t, Open, at(3), None, rules(&p, &cal)).expect("resume");
        assert_eq!(t.sla.first_response_due, Some(at(4)));
        assert_eq!(t.sla.resolution_due, Some(at(13)));
    }
}
