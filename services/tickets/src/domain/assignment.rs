//! AssignTicket: an open ticket goes to an agent (within a team, when named), to a team's
//! queue, or through routing again; the capacity of the agents it leaves and joins follows.
use super::{AgentId, TeamId, Ticket};

/// What AssignTicket asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assign {
    /// Route again by the rules.
    Reroute,
    /// Any available agent of this team.
    Team(TeamId),
    /// This agent (in this team, when given).
    Agent(AgentId, Option<TeamId>),
}

/// Why a ticket is not assigned as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Solved and closed tickets keep their assignee.
    NotOpen,
    /// The agent asked for is in another team than the one named.
    NotAMember { agent: AgentId, team: TeamId },
}

/// Only open tickets are assigned.
pub fn assignable(t: &Ticket) -> Result<(), Refusal> {
    if t.status.is_open() {
        Ok(())
    } else {
        Err(Refusal::NotOpen)
    }
}

/// The capacity a move to another agent shifts: the new agent's is claimed (refused when
/// full), then the previous assignee's released. Nothing moves when it stays with its agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handover {
    pub claim: Option<AgentId>,
    pub release: Option<AgentId>,
}

/// Assigning `t` to `agent`, a member of `agent_team`, asked for within `asked_team`.
pub fn to_agent(
    t: &Ticket,
    agent: AgentId,
    agent_team: TeamId,
    asked_team: Option<TeamId>,
) -> Result<Handover, Refusal> {
    if let Some(team) = asked_team
        && team != agent_team
    {
        return Err(Refusal::NotAMember { agent, team });
    }
    Ok(if t.assignee == Some(agent) {
        Handover {
            claim: None,
            release: None,
        }
    } else {
        Handover {
            claim: Some(agent),
            release: t.assignee,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;
    use crate::domain::fixtures::{agent, team, ticket};

    #[test]
    fn only_open_tickets_are_assigned() {
        use Status::*;
        let table = [
            (New, true),
            (Open, true),
            (PendingCustomer, true),
            (OnHold, true),
            (Solved, false),
            (Closed, false),
        ];
        for (status, ok) in table {
            let want = if ok { Ok(()) } else { Err(Refusal::NotOpen) };
            assert_eq!(assignable(&ticket(status)), want, "{status:?}");
        }
    }

    #[test]
    fn handing_over_to_an_agent() {
        // The fixture's ticket is with agent 1 of team 1.
        let unassigned = || {
            let mut t = ticket(Status::Open);
            t.assignee = None;
            t
        };
        let (a1, a2) = (agent(1), agent(2));
        let moves = |claim, release| Ok(Handover { claim, release });
        // (case, ticket, agent, the agent's team, team asked for, handover or refusal)
        #[rustfmt::skip]
        let table = [
            ("to another agent of the team", ticket(Status::Open), a2, team(1), None, moves(Some(a2), Some(a1))),
            ("to an agent of another team", ticket(Status::Open), a2, team(2), None, moves(Some(a2), Some(a1))),
            ("within the team named", ticket(Status::Open), a2, team(2), Some(team(2)), moves(Some(a2), Some(a1))),
            ("to the agent it has: nothing moves", ticket(Status::Open), a1, team(1), Some(team(1)), moves(None, None)),
            ("to an agent from the queue", unassigned(), a2, team(1), None, moves(Some(a2), None)),
            ("not a member of the team named", ticket(Status::Open), a2, team(2), Some(team(1)),
                Err(Refusal::NotAMember { agent: a2, team: team(1) })),
            ("its own agent, in a team it is not in", ticket(Status::Open), a1, team(1), Some(team(3)),
                Err(Refusal::NotAMember { agent: a1, team: team(3) })),
        ];
        for (case, t, a, agent_team, asked, want) in table {
            assert_eq!(to_agent(&t, a, agent_team, asked), want, "{case}");
        }
    }
}
