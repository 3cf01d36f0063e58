//! GetTicketStats: volumes, response and resolution times (wall clock and business hours),
//! SLA hit rate, backlog and CSAT, overall and per team and agent. Every figure is a grouped
//! query ([`crate::store::stats`]); nothing here holds more than one entry per group.
use super::TicketsService;
use crate::domain::{AgentId, SlaState, TeamId};
use crate::store::stats::{self as q, Group, Percentiles, Scope, Window};
use chrono::{DateTime, Duration, Utc};
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

/// (wall clock, business) percentiles of one duration into its figures.
fn duration_stats(wall: (i64, i64, i64), business: (i64, i64, i64)) -> DurationStats {
    DurationStats {
        count: wall.0,
        median_seconds: wall.1,
        p90_seconds: wall.2,
        business_median_seconds: business.1,
        business_p90_seconds: business.2,
    }
}

fn apply_durations(g: &mut GroupStats, p: &Percentiles) {
    g.first_response = duration_stats(p[0], p[1]);
    g.resolution = duration_stats(p[2], p[3]);
}

impl TicketsService {
    pub async fn stats(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        team: Option<TeamId>,
    ) -> Result<TicketStats, Error> {
        let days = self.cfg.max_stats_window_days;
        if end - start > Duration::days(days) {
            return Err(Error::invalid_field(
                "end_time",
                format!("the window may span at most {days} days"),
            ));
        }
        let w = Window { start, end, team };
        let total = self
            .group_stats(&w, Scope::Total)
            .await?
            .remove(&None)
            .unwrap_or_default();
        let named = |groups: HashMap<Group, GroupStats>, name: fn(uuid::Uuid) -> String| {
            let by_name: BTreeMap<String, GroupStats> = groups
                .into_iter()
                .filter_map(|(g, s)| g.map(|id| (name(id), s)))
                .collect();
            by_name
                .into_iter()
                .map(|(n, mut s)| {
                    s.group = n;
                    s
                })
                .collect()
        };
        let teams = named(self.group_stats(&w, Scope::Team).await?, |id| {
            TeamId(id).name()
        });
        let agents = named(self.group_stats(&w, Scope::Agent).await?, |id| {
            AgentId(id).name()
        });
        Ok(TicketStats {
            start,
            end,
            total,
            teams,
            agents,
        })
    }

    /// Every figure of every group of `scope` (a group with window tickets or a backlog).
    async fn group_stats(
        &self,
        w: &Window,
        scope: Scope,
    ) -> Result<HashMap<Group, GroupStats>, Error> {
        let db = &self.db;
        let mut groups: HashMap<Group, GroupStats> = HashMap::new();
        for (g, _, n) in q::volume(db, w, scope, None).await? {
            groups.entry(g).or_default().volume = n;
        }
        for dim in q::Dimension::ALL {
            for (g, value, n) in q::volume(db, w, scope, Some(dim)).await? {
                let s = groups.entry(g).or_default();
                let map = match dim {
                    q::Dimension::Channel => &mut s.by_channel,
                    q::Dimension::Category => &mut s.by_category,
                    q::Dimension::Priority => &mut s.by_priority,
                };
                map.insert(value, n);
            }
        }
        for (g, p) in q::durations(db, w, scope).await? {
            apply_durations(groups.entry(g).or_default(), &p);
        }
        let mut outcomes: HashMap<Group, (i64, i64)> = HashMap::new();
        for (g, state, n) in q::sla_outcomes(db, w, scope).await? {
            let (hit, finished) = outcomes.entry(g).or_default();
            if state == SlaState::Hit.as_str() {
                *hit += n;
            }
            *finished += n;
        }
        for (g, (hit, finished)) in outcomes {
            if finished > 0 {
                groups.entry(g).or_default().sla_hit_rate = hit as f64 / finished as f64;
            }
        }
        for (g, n) in q::backlog(db, w, scope).await? {
            groups.entry(g).or_default().backlog = n;
        }
        for (g, score, n) in q::csat(db, w, scope).await? {
            let s = groups.entry(g).or_default();
            s.csat_responses += n;
            s.csat_distribution.insert(score, n);
        }
        for s in groups.values_mut() {
            if s.csat_responses > 0 {
                let sum: i64 = s
                    .csat_distribution
                    .iter()
                    .map(|(score, n)| i64::from(*score) * n)
                    .sum();
                s.csat_average = sum as f64 / s.csat_responses as f64;
            }
        }
        Ok(groups)
    }

    /// Fills the stats columns of tickets written before they existed, in pages; returns how
    /// many rows were filled.
    pub async fn backfill_ticket_columns(&self) -> Result<u64, Error> {
        let mut filled = 0;
        loop {
            let n = crate::store::backfill_ticket_columns(&self.db, &self.calendar, 500).await?;
            if n == 0 {
                return Ok(filled);
            }
            filled += n;
        }
    }
}
