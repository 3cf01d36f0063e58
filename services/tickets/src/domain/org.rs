//! Changes to teams and agents: an update names the fields it changes (None: keep).
use super::{Agent, Category, RoutingStrategy, Team, TeamId};
use std::collections::BTreeMap;

/// Changes to a team (None: keep).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamPatch {
    pub display_name: Option<String>,
    pub routing_strategy: Option<RoutingStrategy>,
    pub categories: Option<Vec<Category>>,
    pub category_skills: Option<BTreeMap<Category, String>>,
    pub escalation_team: Option<bool>,
}

impl TeamPatch {
    pub fn apply(self, t: &mut Team) {
        if let Some(v) = self.display_name {
            t.display_name = v;
        }
        if let Some(v) = self.routing_strategy {
            t.routing_strategy = v;
        }
        if let Some(v) = self.categories {
            t.categories = v;
        }
        if let Some(v) = self.category_skills {
            t.category_skills = v;
        }
        if let Some(v) = self.escalation_team {
            t.escalation_team = v;
        }
    }
}

/// Changes to an agent (None: keep). A new team must exist (the caller checks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentPatch {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub team: Option<TeamId>,
    pub skills: Option<Vec<String>>,
    pub max_open_tickets: Option<i32>,
    pub available: Option<bool>,
}

impl AgentPatch {
    pub fn apply(self, a: &mut Agent) {
        if let Some(v) = self.team {
            a.team = v;
        }
        if let Some(v) = self.display_name {
            a.display_name = v;
        }
        if let Some(v) = self.email {
            a.email = v;
        }
        if let Some(v) = self.skills {
            a.skills = v;
        }
        if let Some(v) = self.max_open_tickets {
            a.max_open_tickets = v;
        }
        if let Some(v) = self.available {
            a.available = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AgentId;
    use crate::domain::fixtures::{at, team};

    fn a_team() -> Team {
        Team {
            id: team(1),
            display_name: "Repairs".into(),
            routing_strategy: RoutingStrategy::LeastLoaded,
            categories: vec![Category::Repair],
            category_skills: BTreeMap::new(),
            escalation_team: false,
            create_time: at(0),
            update_time: at(0),
            revision: 1,
        }
    }

    fn an_agent() -> Agent {
        Agent {
            id: AgentId(uuid::Uuid::from_u128(1)),
            display_name: "Ana".into(),
            email: "ana@example.com".into(),
            team: team(1),
            skills: vec!["repair".into()],
            max_open_tickets: 5,
            available: true,
            open_tickets: 2,
            last_assigned: None,
            create_time: at(0),
            update_time: at(0),
            revision: 3,
        }
    }

    #[test]
    fn team_patches_change_the_named_fields_only() {
        let skills = BTreeMap::from([(Category::Repair, "soldering".to_owned())]);
        let patch = TeamPatch::default;
        // (case, patch, the team then)
        #[rustfmt::skip]
        let table = [
            ("nothing", patch(), a_team()),
            ("a name", TeamPatch { display_name: Some("Fixes".into()), ..patch() },
                Team { display_name: "Fixes".into(), ..a_team() }),
            ("no categories at all", TeamPatch { categories: Some(vec![]), ..patch() },
                Team { categories: vec![], ..a_team() }),
            ("escalation only", TeamPatch { escalation_team: Some(true), ..patch() },
                Team { escalation_team: true, ..a_team() }),
            ("everything", TeamPatch {
                display_name: Some("Escalations".into()),
                routing_strategy: Some(RoutingStrategy::RoundRobin),
                categories: Some(vec![Category::Billing, Category::Other]),
                category_skills: Some(skills.clone()),
                escalation_team: Some(true),
            }, Team {
                display_name: "Escalations".into(),
                routing_strategy: RoutingStrategy::RoundRobin,
                categories: vec![Category::Billing, Category::Other],
                category_skills: skills.clone(),
                escalation_team: true,
                ..a_team()
            }),
        ];
        for (case, patch, want) in table {
            let mut t = a_team();
            patch.apply(&mut t);
            assert_eq!(t, want, "{case}");
        }
    }

    #[test]
    fn agent_patches_change_the_named_fields_only() {
        let patch = AgentPatch::default;
        // (case, patch, the agent then)
        #[rustfmt::skip]
        let table = [
            ("nothing", patch(), an_agent()),
            ("away", AgentPatch { available: Some(false), ..patch() },
                Agent { available: false, ..an_agent() }),
            ("no skills", AgentPatch { skills: Some(vec![]), ..patch() },
                Agent { skills: vec![], ..an_agent() }),
            ("another team, more capacity", AgentPatch { team: Some(team(2)), max_open_tickets: Some(9), ..patch() },
                Agent { team: team(2), max_open_tickets: 9, ..an_agent() }),
            ("name and e-mail", AgentPatch { display_name: Some("Ana B".into()), email: Some(String::new()), ..patch() },
                Agent { display_name: "Ana B".into(), email: String::new(), ..an_agent() }),
        ];
        for (case, patch, want) in table {
            let mut a = an_agent();
            patch.apply(&mut a);
            assert_eq!(a, want, "{case}");
        }
    }
}
