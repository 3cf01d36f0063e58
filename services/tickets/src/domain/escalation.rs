//! SLA escalation: the SLA job claims each breach of a ticket once (targets past due and not
//! yet recorded: [`SlaTrack::overdue`](super::SlaTrack::overdue)); a ticket with claimed
//! breaches is escalated once, however many: its priority goes up one level and it moves to
//! the escalation team, with a note on its thread saying so.
use super::{AgentId, Priority, Target, TeamId, Ticket};
use chrono::{DateTime, Utc};

/// What the SLA job records as the action of each breach.
pub const ACTION: &str = "priority bump; escalation team";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// The breaches claimed (target and the due time missed).
    pub breaches: Vec<(Target, DateTime<Utc>)>,
    /// The priority the ticket is raised to.
    pub priority: Priority,
    /// The escalation team the ticket moves to (None: it stays where it is).
    pub team: Option<TeamId>,
}

/// How `t` escalates for the breaches just `claimed` (at least one; when another runner
/// claimed them all, nothing happens), given the team holding the escalation claim.
pub fn plan(
    t: &Ticket,
    claimed: Vec<(Target, DateTime<Utc>)>,
    escalation_team: Option<TeamId>,
) -> Escalation {
    Escalation {
        breaches: claimed,
        priority: t.priority.bumped(),
        team: escalation_team.filter(|e| t.team != Some(*e)),
    }
}

impl Escalation {
    /// Records the breaches and raises the priority; on a move to the escalation team the
    /// ticket leaves its assignee, who is returned (the caller releases the agent's capacity
    /// and routes the ticket within the new team).
    pub fn apply(&self, t: &mut Ticket) -> Option<AgentId> {
        for (target, due) in &self.breaches {
            t.sla.breach(*target, *due);
        }
        t.priority = self.priority;
        t.escalations += 1;
        let team = self.team?;
        t.team = Some(team);
        t.assignee.take()
    }

    /// The system note on the ticket's thread.
    pub fn note(&self) -> String {
        let targets: Vec<&str> = self.breaches.iter().map(|(t, _)| t.as_str()).collect();
        let moved = self
            .team
            .map(|team| format!("; reassigned to {team}"))
            .unwrap_or_default();
        format!(
            "SLA missed: {}. Priority raised to {}{moved}.",
            targets.join(", "),
            self.priority.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{agent, at, calendar, policy, solved_at, team, ticket};
    use crate::domain::{SlaState, Status};
    use Target::{FirstResponse, NextResponse, Resolution};
    use chrono::Duration;

    type Breaches = Vec<(Target, DateTime<Utc>)>;

    #[test]
    fn which_breaches_the_job_finds() {
        // The fixture: first response due at hour 1, resolution at hour 10.
        let running = || ticket(Status::Open);
        let answered = || {
            let mut t = running();
            t.sla.met(FirstResponse, at(0));
            t
        };
        let recorded = || {
            let mut t = running();
            t.sla.breach(FirstResponse, at(1));
            t
        };
        let paused = || {
            let mut t = running();
            t.sla.pause(at(0));
            t
        };
        let owed = || {
            let mut t = answered();
            t.sla.owe_reply(&policy(), &calendar(), at(2));
            t
        };
        let closed_unanswered = || {
            let mut t = running();
            t.sla.finish(at(2));
            t
        };
        let just_after = at(1) + Duration::microseconds(1);
        // (case, ticket, at, breaches found)
        #[rustfmt::skip]
        let table: Vec<(&str, Ticket, DateTime<Utc>, Breaches)> = vec![
            ("nothing due yet", running(), at(0), vec![]),
            ("exactly at the due time is not late", running(), at(1), vec![]),
            ("just after", running(), just_after, vec![(FirstResponse, at(1))]),
            ("two at once", running(), at(11), vec![(FirstResponse, at(1)), (Resolution, at(10))]),
            ("already recorded is not found again", recorded(), at(2), vec![]),
            ("already recorded, the next one is", recorded(), at(11), vec![(Resolution, at(10))]),
            ("answered in time", answered(), at(5), vec![]),
            ("a next reply owed", owed(), at(5), vec![(NextResponse, at(4))]),
            ("paused: the clock stands", paused(), at(100), vec![]),
            ("solved: nothing runs", solved_at(1), at(100), vec![]),
            ("finished without an answer", closed_unanswered(), at(100), vec![]),
        ];
        for (case, t, now, want) in table {
            assert_eq!(t.sla.overdue(now), want, "{case}");
        }
    }

    /// (priority after, team after, assignee after, released, note)
    type After = (
        Priority,
        Option<TeamId>,
        Option<AgentId>,
        Option<AgentId>,
        String,
    );

    #[test]
    fn what_escalation_does() {
        let fr = vec![(FirstResponse, at(1))];
        let both = vec![(FirstResponse, at(1)), (Resolution, at(10))];
        let with = |p: Priority, team: Option<TeamId>| {
            let mut t = ticket(Status::Open);
            t.priority = p;
            t.team = team;
            t
        };
        let (ours, escalation) = (Some(team(1)), Some(team(9)));
        let a = Some(agent(1));
        // (case, ticket, claimed, escalation team, what the ticket is then)
        #[rustfmt::skip]
        let table: Vec<(&str, Ticket, Breaches, Option<TeamId>, After)> = vec![
            ("low to normal, to the escalation team", with(Priority::Low, ours), fr.clone(), escalation,
                (Priority::Normal, escalation, None, a, format!("SLA missed: first_response. Priority raised to normal; reassigned to {}.", team(9)))),
            ("two breaches escalate once", with(Priority::Normal, ours), both.clone(), escalation,
                (Priority::High, escalation, None, a, format!("SLA missed: first_response, resolution. Priority raised to high; reassigned to {}.", team(9)))),
            ("urgent stays urgent", with(Priority::Urgent, ours), fr.clone(), escalation,
                (Priority::Urgent, escalation, None, a, format!("SLA missed: first_response. Priority raised to urgent; reassigned to {}.", team(9)))),
            ("no escalation team: stays with its team and agent", with(Priority::High, ours), fr.clone(), None,
                (Priority::Urgent, ours, a, None, "SLA missed: first_response. Priority raised to urgent.".to_owned())),
            ("already with the escalation team: keeps its agent", with(Priority::Low, escalation), fr.clone(), escalation,
                (Priority::Normal, escalation, a, None, "SLA missed: first_response. Priority raised to normal.".to_owned())),
            ("no team yet: to the escalation team", with(Priority::Normal, None), both.clone(), escalation,
                (Priority::High, escalation, None, a, format!("SLA missed: first_response, resolution. Priority raised to high; reassigned to {}.", team(9)))),
        ];
        for (case, mut t, claimed, esc, want) in table {
            let e = plan(&t, claimed.clone(), esc);
            let released = e.apply(&mut t);
            assert_eq!(
                (t.priority, t.team, t.assignee, released, e.note()),
                want,
                "{case}"
            );
            assert_eq!(t.escalations, 1, "{case}");
            // Each claimed breach is recorded, so the job does not find it again.
            for (target, due) in claimed {
                assert!(
                    t.sla
                        .missed
                        .iter()
                        .any(|m| m.target == target && m.due == due),
                    "{case}"
                );
            }
            assert!(
                t.sla
                    .overdue(at(11))
                    .iter()
                    .all(|b| !e.breaches.contains(b)),
                "{case}"
            );
            assert_eq!(t.sla.state(at(11)), SlaState::ActiveWithMisses, "{case}");
        }
    }
}
