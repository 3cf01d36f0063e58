//! Routing: which team takes a category, and in which order a team's agents are tried.
//! The store then claims capacity with a conditional update, trying agents in this order.
use super::{AgentId, RoutingStrategy};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: AgentId,
    pub open_tickets: i32,
    pub max_open_tickets: i32,
    pub available: bool,
    pub skills: Vec<String>,
    pub last_assigned: Option<DateTime<Utc>>,
}

impl Candidate {
    fn eligible(&self, skill: Option<&str>) -> bool {
        self.available
            && self.open_tickets < self.max_open_tickets
            && skill.is_none_or(|s| self.skills.iter().any(|k| k == s))
    }
}

/// The eligible agents (available, below capacity, with the skill if one is needed) in the
/// order to try them: round robin prefers the one assigned longest ago (never first), least
/// loaded the one with the fewest open tickets (then longest ago). Ties break on id.
pub fn order(
    strategy: RoutingStrategy,
    candidates: &[Candidate],
    skill: Option<&str>,
) -> Vec<AgentId> {
    let mut c: Vec<&Candidate> = candidates.iter().filter(|c| c.eligible(skill)).collect();
    match strategy {
        RoutingStrategy::RoundRobin => c.sort_by_key(|c| (c.last_assigned, c.id)),
        RoutingStrategy::LeastLoaded => {
            c.sort_by_key(|c| (c.open_tickets, c.last_assigned, c.id));
        }
    }
    c.into_iter().map(|c| c.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn agent(n: u128, open: i32, max: i32, last: Option<i64>, skills: &[&str]) -> Candidate {
        Candidate {
            id: AgentId(uuid::Uuid::from_u128(n)),
            open_tickets: open,
            max_open_tickets: max,
            available: true,
            skills: skills.iter().map(|s| (*s).to_owned()).collect(),
            last_assigned: last.map(|m| {
                DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default()
                    + Duration::minutes(m)
            }),
        }
    }

    fn ids(v: Vec<AgentId>) -> Vec<u128> {
        v.into_iter().map(|a| a.0.as_u128()).collect()
    }

    #[test]
    fn least_loaded_then_longest_idle() {
        let c = [
            agent(1, 3, 5, Some(1), &[]),
            agent(2, 1, 5, Some(9), &[]),
            agent(3, 1, 5, Some(2), &[]),
            agent(4, 5, 5, None, &[]),
        ];
        assert_eq!(
            ids(order(RoutingStrategy::LeastLoaded, &c, None)),
            [3, 2, 1]
        );
    }

    #[test]
    fn round_robin_prefers_never_assigned() {
        let c = [
            agent(1, 0, 5, Some(5), &[]),
            agent(2, 4, 5, None, &[]),
            agent(3, 0, 5, Some(1), &[]),
        ];
        assert_eq!(ids(order(RoutingStrategy::RoundRobin, &c, None)), [2, 3, 1]);
    }

    #[test]
    fn skills_capacity_and_availability_filter() {
        let mut away = agent(3, 0, 5, None, &["repair"]);
        away.available = false;
        let c = [
            agent(1, 0, 5, None, &["billing"]),
            agent(2, 2, 2, None, &["repair"]),
            away,
            agent(4, 1, 2, None, &["repair", "english"]),
        ];
        assert_eq!(
            ids(order(RoutingStrategy::LeastLoaded, &c, Some("repair"))),
            [4]
        );
        assert!(order(RoutingStrategy::RoundRobin, &c[1..3], None).is_empty());
    }
}
