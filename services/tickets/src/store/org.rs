//! Teams, the claims only one team may hold, and agents with their capacity counters.
use super::convert::{agent_from_row, agent_row, team_from_row, team_row};
use super::entities::{agent, team, team_claim};
use crate::domain::{Agent, AgentId, Category, RoutingStrategy, Team, TeamId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

pub async fn insert_team(conn: &impl ConnectionTrait, t: &Team) -> Result<(), Error> {
    team::Entity::insert(team_row(t)?)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Writes `t` if the stored revision is still `t.revision - 1`; false when it moved.
pub async fn update_team(conn: &impl ConnectionTrait, t: &Team) -> Result<bool, Error> {
    let mut row = team_row(t)?;
    row.id = NotSet;
    let res = team::Entity::update_many()
        .set(row)
        .filter(team::Column::Id.eq(t.id.0))
        .filter(team::Column::Revision.eq(t.revision - 1))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn find_team(conn: &impl ConnectionTrait, id: TeamId) -> Result<Option<Team>, Error> {
    team::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .map(team_from_row)
        .transpose()
}

/// One ListTeams page, in id order after `after`.
pub fn list_teams_select(after: Option<Uuid>, limit: u64) -> sea_orm::Select<team::Entity> {
    let mut s = team::Entity::find();
    if let Some(a) = after {
        s = s.filter(team::Column::Id.gt(a));
    }
    s.order_by_asc(team::Column::Id).limit(limit)
}

pub async fn list_teams(
    conn: &impl ConnectionTrait,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Team>, Error> {
    list_teams_select(after, limit)
        .all(conn)
        .await?
        .into_iter()
        .map(team_from_row)
        .collect()
}

pub async fn delete_team(conn: &impl ConnectionTrait, id: TeamId) -> Result<bool, Error> {
    Ok(team::Entity::delete_by_id(id.0)
        .exec(conn)
        .await?
        .rows_affected
        == 1)
}

/// What only one team may hold at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Routing the tickets of a category.
    Category(Category),
    /// Being the escalation team.
    Escalation,
}

impl Claim {
    fn key(self) -> String {
        match self {
            Claim::Category(c) => format!("category:{}", c.as_str()),
            Claim::Escalation => "escalation".to_owned(),
        }
    }

    /// The claims a team's settings make.
    pub fn of(t: &Team) -> Vec<Claim> {
        let mut v: Vec<Claim> = t.categories.iter().map(|c| Claim::Category(*c)).collect();
        if t.escalation_team {
            v.push(Claim::Escalation);
        }
        v
    }
}

/// Makes the claims of `t` exactly [`Claim::of`]`(t)`: drops the ones it gave up and takes the
/// new ones. Each claim is a primary-key row, so of two concurrent claimants one waits for
/// the other and then finds the claim taken. Returns the first claim another team holds
/// (nothing is taken then; the caller rolls back).
pub async fn set_team_claims(
    conn: &impl ConnectionTrait,
    t: &Team,
) -> Result<Option<(Claim, TeamId)>, Error> {
    let claims = Claim::of(t);
    let keys: Vec<String> = claims.iter().map(|c| c.key()).collect();
    team_claim::Entity::delete_many()
        .filter(team_claim::Column::TeamId.eq(t.id.0))
        .filter(team_claim::Column::Claim.is_not_in(keys.clone()))
        .exec(conn)
        .await?;
    for (claim, key) in claims.into_iter().zip(keys) {
        team_claim::Entity::insert(team_claim::ActiveModel {
            claim: Set(key.clone()),
            team_id: Set(t.id.0),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
        match claim_holder_key(conn, key).await? {
            Some(holder) if holder != t.id => return Ok(Some((claim, holder))),
            _ => {}
        }
    }
    Ok(None)
}

async fn claim_holder_key(
    conn: &impl ConnectionTrait,
    key: String,
) -> Result<Option<TeamId>, Error> {
    Ok(team_claim::Entity::find_by_id(key)
        .one(conn)
        .await?
        .map(|r| TeamId(r.team_id)))
}

/// The team holding `claim`, if any.
pub async fn claim_holder(
    conn: &impl ConnectionTrait,
    claim: Claim,
) -> Result<Option<TeamId>, Error> {
    claim_holder_key(conn, claim.key()).await
}

/// Gives up every claim of a team (it is deleted).
pub async fn drop_team_claims(conn: &impl ConnectionTrait, team: TeamId) -> Result<(), Error> {
    team_claim::Entity::delete_many()
        .filter(team_claim::Column::TeamId.eq(team.0))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn insert_agent(conn: &impl ConnectionTrait, a: &Agent) -> Result<(), Error> {
    agent::Entity::insert(agent_row(a)?)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Writes the profile (not the load counters) if the revision is still `a.revision - 1`.
pub async fn update_agent(conn: &impl ConnectionTrait, a: &Agent) -> Result<bool, Error> {
    use agent::Column as C;
    let mut row = agent_row(a)?;
    row.id = NotSet;
    row.open_tickets = NotSet;
    row.last_assigned = NotSet;
    let res = agent::Entity::update_many()
        .set(row)
        .filter(C::Id.eq(a.id.0))
        .filter(C::Revision.eq(a.revision - 1))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn find_agent(conn: &impl ConnectionTrait, id: AgentId) -> Result<Option<Agent>, Error> {
    agent::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .map(agent_from_row)
        .transpose()
}

/// One ListAgents page, in id order after `after`, optionally of one team.
pub fn list_agents_select(
    team: Option<TeamId>,
    after: Option<Uuid>,
    limit: u64,
) -> sea_orm::Select<agent::Entity> {
    let mut s = agent::Entity::find();
    if let Some(t) = team {
        s = s.filter(agent::Column::TeamId.eq(t.0));
    }
    if let Some(a) = after {
        s = s.filter(agent::Column::Id.gt(a));
    }
    s.order_by_asc(agent::Column::Id).limit(limit)
}

pub async fn list_agents(
    conn: &impl ConnectionTrait,
    team: Option<TeamId>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Agent>, Error> {
    list_agents_select(team, after, limit)
        .all(conn)
        .await?
        .into_iter()
        .map(agent_from_row)
        .collect()
}

/// One page of a team's agents that can take a ticket now (available, below capacity), in
/// the order routing tries them: the order [`crate::domain::routing::order`] sorts by, so a
/// page sorted again there keeps it. `offset` pages through (routing stops at the first
/// agent it can claim, so it reads one page in the usual case however large the team).
pub async fn routing_candidates(
    conn: &impl ConnectionTrait,
    team: TeamId,
    strategy: RoutingStrategy,
    offset: u64,
    limit: u64,
) -> Result<Vec<Agent>, Error> {
    routing_select(team, strategy, offset, limit)
        .all(conn)
        .await?
        .into_iter()
        .map(agent_from_row)
        .collect()
}

/// The statement of [`routing_candidates`].
pub fn routing_select(
    team: TeamId,
    strategy: RoutingStrategy,
    offset: u64,
    limit: u64,
) -> sea_orm::Select<agent::Entity> {
    use agent::Column as C;
    use sea_orm::sea_query::NullOrdering;
    let mut s = agent::Entity::find()
        .filter(C::TeamId.eq(team.0))
        .filter(C::Available.eq(true))
        .filter(Expr::col(C::OpenTickets).lt(Expr::col(C::MaxOpenTickets)));
    if strategy == RoutingStrategy::LeastLoaded {
        s = s.order_by_asc(C::OpenTickets);
    }
    // Never assigned comes first, as `None < Some` in the domain's sort.
    s.order_by_with_nulls(C::LastAssigned, sea_orm::Order::Asc, NullOrdering::First)
        .order_by_asc(C::Id)
        .offset(offset)
        .limit(limit)
}

pub async fn delete_agent(conn: &impl ConnectionTrait, id: AgentId) -> Result<bool, Error> {
    Ok(agent::Entity::delete_by_id(id.0)
        .exec(conn)
        .await?
        .rows_affected
        == 1)
}

/// Takes one unit of the agent's capacity: a single conditional increment, so concurrent
/// routings can never push an agent past `max_open_tickets`. False when full or away.
pub async fn claim_capacity(
    conn: &impl ConnectionTrait,
    id: AgentId,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    use agent::Column as C;
    let res = agent::Entity::update_many()
        .col_expr(C::OpenTickets, Expr::col(C::OpenTickets).add(1))
        .col_expr(C::LastAssigned, Expr::value(Some(now)))
        .filter(C::Id.eq(id.0))
        .filter(C::Available.eq(true))
        .filter(Expr::col(C::OpenTickets).lt(Expr::col(C::MaxOpenTickets)))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Gives one unit of capacity back (ticket solved, closed or reassigned).
pub async fn release_capacity(conn: &impl ConnectionTrait, id: AgentId) -> Result<(), Error> {
    use agent::Column as C;
    agent::Entity::update_many()
        .col_expr(C::OpenTickets, Expr::col(C::OpenTickets).sub(1))
        .filter(C::Id.eq(id.0))
        .filter(C::OpenTickets.gt(0))
        .exec(conn)
        .await?;
    Ok(())
}
