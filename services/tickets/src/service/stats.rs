//! GetTicketStats: volumes, response and resolution times (wall clock and business hours),
//! SLA hit rate, backlog and CSAT, overall and per team and agent.
use super::TicketsService;
use crate::domain::stats::summary;
use crate::domain::{Calendar, Satisfaction, SlaState, Status, TeamId, Ticket, TicketId, now, sla};
use crate::store;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurationStats {
    pub count: i64,
    pub median_seconds: i64,
    pub p90_seconds: i64,
    pub business_median_seconds: i64,
    pub business_p90_seconds: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupStats {
    /// "" for all, else a team or agent name.
    pub group: String,
    pub volume: i64,
    pub by_channel: BTreeMap<String, i64>,
    pub by_category: BTreeMap<String, i64>,
    pub by_priority: BTreeMap<String, i64>,
    pub first_response: DurationStats,
    pub resolution: DurationStats,
    pub sla_hit_rate: f64,
    pub backlog: i64,
    pub csat_responses: i64,
    pub csat_average: f64,
    pub csat_distribution: BTreeMap<i32, i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TicketStats {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub total: GroupStats,
    pub teams: Vec<GroupStats>,
    pub agents: Vec<GroupStats>,
}

fn durations(
    cal: &Calendar,
    tickets: &[&Ticket],
    end: impl Fn(&Ticket) -> Option<DateTime<Utc>>,
) -> DurationStats {
    let (mut wall, mut business): (Vec<i64>, Vec<i64>) = tickets
        .iter()
        .filter_map(|t| end(t).map(|e| sla::elapsed(cal, t.create_time, e)))
        .unzip();
    let (count, median_seconds, p90_seconds) = summary(&mut wall);
    let (_, business_median_seconds, business_p90_seconds) = summary(&mut business);
    DurationStats {
        count,
        median_seconds,
        p90_seconds,
        business_median_seconds,
        business_p90_seconds,
    }
}

/// One group's figures: `tickets` created in the window, `backlog` open now.
fn group(
    name: String,
    cal: &Calendar,
    tickets: &[&Ticket],
    backlog: i64,
    csat: &HashMap<TicketId, &Satisfaction>,
    at: DateTime<Utc>,
) -> GroupStats {
    let mut g = GroupStats {
        group: name,
        volume: tickets.len() as i64,
        backlog,
        ..GroupStats::default()
    };
    for t in tickets {
        *g.by_channel
            .entry(t.channel.as_str().to_owned())
            .or_default() += 1;
        *g.by_category
            .entry(t.category.as_str().to_owned())
            .or_default() += 1;
        *g.by_priority
            .entry(t.priority.as_str().to_owned())
            .or_default() += 1;
    }
    g.first_response = durations(cal, tickets, |t| t.first_response_time);
    g.resolution = durations(cal, tickets, |t| t.solve_time);
    let (mut hit, mut finished) = (0u32, 0u32);
    for t in tickets.iter().filter(|t| t.merged_into.is_none()) {
        match t.sla.state(at) {
            SlaState::Hit => {
                hit += 1;
                finished += 1;
            }
            SlaState::Missed => finished += 1,
            _ => {}
        }
    }
    if finished > 0 {
        g.sla_hit_rate = f64::from(hit) / f64::from(finished);
    }
    let scores: Vec<i32> = tickets
        .iter()
        .filter_map(|t| csat.get(&t.id).map(|s| s.overall))
        .collect();
    g.csat_responses = scores.len() as i64;
    if !scores.is_empty() {
        g.csat_average = f64::from(scores.iter().sum::<i32>()) / scores.len() as f64;
    }
    for s in scores {
        *g.csat_distribution.entry(s).or_default() += 1;
    }
    g
}

impl TicketsService {
    pub async fn stats(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        team: Option<TeamId>,
    ) -> Result<TicketStats, Error> {
        let at = now();
        let created = store::tickets_created(&self.db, start, end, team).await?;
        let open = store::open_tickets(&self.db, team).await?;
        let ids: Vec<TicketId> = created.iter().map(|t| t.id).collect();
        let answers = store::satisfaction_of(&self.db, &ids).await?;
        let csat: HashMap<TicketId, &Satisfaction> =
            answers.iter().map(|s| (s.ticket, s)).collect();
        let cal = &self.calendar;
        let all: Vec<&Ticket> = created.iter().collect();
        let total = group(String::new(), cal, &all, open.len() as i64, &csat, at);

        let mut by_team: BTreeMap<String, Vec<&Ticket>> = BTreeMap::new();
        let mut by_agent: BTreeMap<String, Vec<&Ticket>> = BTreeMap::new();
        for t in &created {
            if let Some(x) = t.team {
                by_team.entry(x.name()).or_default().push(t);
            }
            if let Some(x) = t.assignee {
                by_agent.entry(x.name()).or_default().push(t);
            }
        }
        let mut team_backlog: HashMap<String, i64> = HashMap::new();
        let mut agent_backlog: HashMap<String, i64> = HashMap::new();
        for t in open.iter().filter(|t| t.status != Status::Closed) {
            if let Some(x) = t.team {
                *team_backlog.entry(x.name()).or_default() += 1;
                by_team.entry(x.name()).or_default();
            }
            if let Some(x) = t.assignee {
                *agent_backlog.entry(x.name()).or_default() += 1;
                by_agent.entry(x.name()).or_default();
            }
        }
        let teams = by_team
            .into_iter()
            .map(|(k, v)| {
                let b = team_backlog.get(&k).copied().unwrap_or(0);
                group(k, cal, &v, b, &csat, at)
            })
            .collect();
        let agents = by_agent
            .into_iter()
            .map(|(k, v)| {
                let b = agent_backlog.get(&k).copied().unwrap_or(0);
                group(k, cal, &v, b, &csat, at)
            })
            .collect();
        Ok(TicketStats {
            start,
            end,
            total,
            teams,
            agents,
        })
    }
}
