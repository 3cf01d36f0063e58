//! Team, agent and macro requests.
use super::{MAX_TEXT, labels, masked, opt_enum, pick, required, required_enum, team};
use crate::domain::{
    Agent, AgentId, AgentPatch, Category, Macro, RoutingStrategy, Team, TeamId, TeamPatch,
    check_macro_code, macros, now,
};
use crate::settings::Limits;
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
use crm_platform::grpc::text;
use crm_platform::validate::{in_range, max_items, multiline};
use crm_proto::tickets as pb;
use std::collections::BTreeMap;

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
