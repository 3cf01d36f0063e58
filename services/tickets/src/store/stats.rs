//! GetTicketStats' queries: every figure is a grouped aggregate in SQL, so the cost in memory
//! is the number of groups (teams, agents, enum values), never the number of tickets.
//! Percentiles are nearest-rank: on PostgreSQL `percentile_disc` per group, elsewhere the
//! count per group and then the value at the rank's offset (`ORDER BY .. LIMIT 1 OFFSET k`
//! on an indexed column); both give the same value.
use super::entities::{satisfaction, ticket};
use crate::domain::stats::rank_offset;
use crate::domain::{SlaState, Status, TeamId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, Iden, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use std::collections::HashMap;
use uuid::Uuid;

use ticket::Column as C;

/// Tickets created in [start, end), optionally of one team.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub team: Option<TeamId>,
}

impl Window {
    fn created(&self) -> sea_orm::Condition {
        let mut c = sea_orm::Condition::all()
            .add(C::CreateTime.gte(self.start))
            .add(C::CreateTime.lt(self.end));
        if let Some(t) = self.team {
            c = c.add(C::TeamId.eq(t.0));
        }
        c
    }

    /// Not solved or closed now (the backlog is not windowed), optionally of one team.
    fn open(&self) -> sea_orm::Condition {
        // The open statuses by name: a list of equalities reads their index ranges only.
        let open = Status::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| s.as_str());
        let mut c = sea_orm::Condition::all().add(C::Status.is_in(open));
        if let Some(t) = self.team {
            c = c.add(C::TeamId.eq(t.0));
        }
        c
    }
}

/// How figures are grouped: all tickets, per team, per assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Total,
    Team,
    Agent,
}

impl Scope {
    fn column(self) -> Option<C> {
        match self {
            Scope::Total => None,
            Scope::Team => Some(C::TeamId),
            Scope::Agent => Some(C::AssigneeId),
        }
    }
}

/// The group of a row: `None` for [`Scope::Total`] (and for unassigned tickets).
pub type Group = Option<Uuid>;

/// The statement of [`counts`].
fn counts_select(cond: sea_orm::Condition, scope: Scope, dim: Option<C>) -> Select<ticket::Entity> {
    let mut q = ticket::Entity::find().select_only().filter(cond);
    if let Some(g) = scope.column() {
        q = q.column(g).group_by(g);
    }
    if let Some(d) = dim {
        q = q.column(d).group_by(d);
    }
    q.column_as(Expr::col(C::Id).count(), "n")
}

/// Counts of tickets matching `cond` per group and, when given, per value of `dim`.
async fn counts(
    conn: &impl ConnectionTrait,
    cond: sea_orm::Condition,
    scope: Scope,
    dim: Option<C>,
) -> Result<Vec<(Group, String, i64)>, Error> {
    let q = counts_select(cond, scope, dim);
    Ok(match (scope.column(), dim) {
        (Some(_), Some(_)) => q.into_tuple::<(Group, String, i64)>().all(conn).await?,
        (Some(_), None) => q
            .into_tuple::<(Group, i64)>()
            .all(conn)
            .await?
            .into_iter()
            .map(|(g, n)| (g, String::new(), n))
            .collect(),
        (None, Some(_)) => q
            .into_tuple::<(String, i64)>()
            .all(conn)
            .await?
            .into_iter()
            .map(|(d, n)| (None, d, n))
            .collect(),
        (None, None) => q
            .into_tuple::<i64>()
            .all(conn)
            .await?
            .into_iter()
            .map(|n| (None, String::new(), n))
            .collect(),
    })
}

/// The statement of [`volume`].
/// What ticket volume is broken down by (the service names these; the store knows their
/// columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Channel,
    Category,
    Priority,
}

impl Dimension {
    pub const ALL: [Self; 3] = [Self::Channel, Self::Category, Self::Priority];

    fn column(self) -> C {
        match self {
            Self::Channel => C::Channel,
            Self::Category => C::Category,
            Self::Priority => C::Priority,
        }
    }
}

pub fn volume_select(w: &Window, scope: Scope, dim: Option<Dimension>) -> Select<ticket::Entity> {
    counts_select(w.created(), scope, dim.map(Dimension::column))
}

/// Tickets created in the window, per group and `dim` value (`None`: per group only).
pub async fn volume(
    conn: &impl ConnectionTrait,
    w: &Window,
    scope: Scope,
    dim: Option<Dimension>,
) -> Result<Vec<(Group, String, i64)>, Error> {
    counts(conn, w.created(), scope, dim.map(Dimension::column)).await
}

/// Finished tickets created in the window (merged-away ones excluded), per group and final
/// SLA state: `hit` or `missed` (`not_applicable` is left out of the hit rate).
pub async fn sla_outcomes(
    conn: &impl ConnectionTrait,
    w: &Window,
    scope: Scope,
) -> Result<Vec<(Group, String, i64)>, Error> {
    counts(conn, sla_outcomes_cond(w), scope, Some(C::SlaState)).await
}

fn sla_outcomes_cond(w: &Window) -> sea_orm::Condition {
    w.created()
        .add(C::Merged.eq(false))
        .add(C::SlaState.is_in([SlaState::Hit.as_str(), SlaState::Missed.as_str()]))
}

/// The statement of [`sla_outcomes`].
pub fn sla_outcomes_select(w: &Window, scope: Scope) -> Select<ticket::Entity> {
    counts_select(sla_outcomes_cond(w), scope, Some(C::SlaState))
}

/// The statement of [`backlog`].
pub fn backlog_select(w: &Window, scope: Scope) -> Select<ticket::Entity> {
    counts_select(w.open(), scope, None)
}

/// Tickets open now, per group.
pub async fn backlog(
    conn: &impl ConnectionTrait,
    w: &Window,
    scope: Scope,
) -> Result<Vec<(Group, i64)>, Error> {
    Ok(counts(conn, w.open(), scope, None)
        .await?
        .into_iter()
        .map(|(g, _, n)| (g, n))
        .collect())
}

/// Survey answers on tickets created in the window, per group and overall score.
pub async fn csat(
    conn: &impl ConnectionTrait,
    w: &Window,
    scope: Scope,
) -> Result<Vec<(Group, i32, i64)>, Error> {
    let q = csat_select(w, scope);
    Ok(match scope.column() {
        Some(_) => q.into_tuple::<(Group, i32, i64)>().all(conn).await?,
        None => q
            .into_tuple::<(i32, i64)>()
            .all(conn)
            .await?
            .into_iter()
            .map(|(s, n)| (None, s, n))
            .collect(),
    })
}

/// The statement of [`csat`].
///
/// The window's tickets are read first and each one's answers looked up by key: a `CROSS
/// JOIN` with the join condition in `WHERE` keeps that order on SQLite (its planner would
/// otherwise scan every answer ever given and look each ticket up); PostgreSQL plans it as
/// the inner join it is.
pub fn csat_select(w: &Window, scope: Scope) -> Select<ticket::Entity> {
    let to_answers = ticket::Entity::belongs_to(satisfaction::Entity)
        .from(C::Id)
        .to(satisfaction::Column::TicketId)
        .into();
    let mut q = ticket::Entity::find()
        .select_only()
        .join(sea_orm::JoinType::CrossJoin, to_answers)
        .filter(
            Expr::col((satisfaction::Entity, satisfaction::Column::TicketId))
                .equals((ticket::Entity, C::Id)),
        )
        .filter(w.created())
        // The score first: grouping by a ticket column first would make walking that
        // column's whole index look cheaper to SQLite than reading the window's range.
        .group_by(satisfaction::Column::Overall);
    if let Some(g) = scope.column() {
        q = q.column(g).group_by(g);
    }
    q.column(satisfaction::Column::Overall)
        .column_as(Expr::col(satisfaction::Column::Overall).count(), "n")
}

/// The four duration columns, in [`Percentiles`] order.
pub const DURATIONS: [C; 4] = [
    C::FirstResponseSeconds,
    C::FirstResponseBusinessSeconds,
    C::ResolutionSeconds,
    C::ResolutionBusinessSeconds,
];

/// Per duration column: (count, median, p90); 0 when the group has none.
pub type Percentiles = [(i64, i64, i64); 4];

/// The nearest-rank median and p90 of each duration column over the window, per group.
pub async fn durations(
    conn: &impl ConnectionTrait,
    w: &Window,
    scope: Scope,
) -> Result<HashMap<Group, Percentiles>, Error> {
    if conn.get_database_backend() == DbBackend::Postgres {
        return durations_pg(conn, w, scope).await;
    }
    let mut out: HashMap<Group, Percentiles> = HashMap::new();
    for (i, col) in DURATIONS.into_iter().enumerate() {
        for (g, _, n) in counts(conn, with_duration(w, col), scope, None).await? {
            let median = value_at_select(w, scope, g, col, rank_offset(n, 50));
            let p90 = value_at_select(w, scope, g, col, rank_offset(n, 90));
            let at = async |q: Select<ticket::Entity>| -> Result<i64, Error> {
                Ok(q.into_tuple::<i64>().one(conn).await?.unwrap_or(0))
            };
            out.entry(g).or_default()[i] = (n, at(median).await?, at(p90).await?);
        }
    }
    Ok(out)
}

/// Tickets of the window with a value of `col`.
fn with_duration(w: &Window, col: C) -> sea_orm::Condition {
    w.created().add(col.is_not_null())
}

/// [`durations`]' count per group of `col` (not on PostgreSQL).
pub fn duration_counts_select(w: &Window, scope: Scope, col: C) -> Select<ticket::Entity> {
    counts_select(with_duration(w, col), scope, None)
}

/// The value of `col` at `offset` in ascending order among the window's tickets of group `g`
/// (not on PostgreSQL). The rows are the window's (read by its create_time range) sorted by
/// `+col`: the unary plus keeps SQLite from walking the whole index of `col` instead, which
/// would read every ticket ever answered to find the window's.
pub fn value_at_select(
    w: &Window,
    scope: Scope,
    g: Group,
    col: C,
    offset: u64,
) -> Select<ticket::Entity> {
    let mut cond = with_duration(w, col);
    if let Some(c) = scope.column() {
        cond = cond.add(match g {
            Some(id) => c.eq(id),
            None => c.is_null(),
        });
    }
    ticket::Entity::find()
        .select_only()
        .column(col)
        .filter(cond)
        .order_by_asc(Expr::cust(format!("+{}", col.to_string())))
        .offset(offset)
        .limit(1)
}

/// [`durations`] in one grouped query with `percentile_disc` (nearest rank: the first value
/// whose cumulative share reaches p).
async fn durations_pg(
    conn: &impl ConnectionTrait,
    w: &Window,
    scope: Scope,
) -> Result<HashMap<Group, Percentiles>, Error> {
    let rows = durations_pg_select(w, scope)
        .into_model::<PgDurations>()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let f = |n: i64, m: Option<i64>, p: Option<i64>| (n, m.unwrap_or(0), p.unwrap_or(0));
            (
                r.g,
                [
                    f(r.n0, r.m0, r.p0),
                    f(r.n1, r.m1, r.p1),
                    f(r.n2, r.m2, r.p2),
                    f(r.n3, r.m3, r.p3),
                ],
            )
        })
        .filter(|(_, p)| p.iter().any(|x| x.0 > 0))
        .collect())
}

/// The statement of [`durations_pg`].
pub fn durations_pg_select(w: &Window, scope: Scope) -> Select<ticket::Entity> {
    let mut q = ticket::Entity::find().select_only().filter(w.created());
    if let Some(g) = scope.column() {
        q = q.column_as(Expr::col(g), "g").group_by(g);
    } else {
        q = q.column_as(Expr::cust("NULL::uuid"), "g");
    }
    for (i, col) in DURATIONS.into_iter().enumerate() {
        let name = col.to_string();
        q = q.column_as(Expr::col(col).count(), format!("n{i}"));
        for (p, alias) in [("0.5", "m"), ("0.9", "p")] {
            q = q.column_as(
                Expr::cust(format!(
                    "percentile_disc({p}) WITHIN GROUP (ORDER BY {name})"
                )),
                format!("{alias}{i}"),
            );
        }
    }
    q
}

#[derive(Debug, sea_orm::FromQueryResult)]
struct PgDurations {
    g: Group,
    n0: i64,
    m0: Option<i64>,
    p0: Option<i64>,
    n1: i64,
    m1: Option<i64>,
    p1: Option<i64>,
    n2: i64,
    m2: Option<i64>,
    p2: Option<i64>,
    n3: i64,
    m3: Option<i64>,
    p3: Option<i64>,
}
