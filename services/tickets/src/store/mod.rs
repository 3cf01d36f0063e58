//! Storage: sea-orm entities, row conversions and the queries; the only place that knows SQL.
//! Ticket writes compare the revision in the statement (`UPDATE .. WHERE revision = ?`);
//! agent capacity is claimed with a conditional increment, so it can never be exceeded.
pub mod convert;
pub mod entities;
pub mod stats;

use crate::domain::{
    Agent, AgentId, Calendar, Category, Macro, Message, RoutingStrategy, Satisfaction, SlaState,
    Target, Team, TeamId, Ticket, TicketId,
};
use chrono::{DateTime, Utc};
use convert::*;
use crm_platform::Error;
use entities::{agent, macro_, message, satisfaction, sla_event, team, team_claim, ticket};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

// ---- tickets ----------------------------------------------------------------------------

pub async fn insert_ticket(
    conn: &impl ConnectionTrait,
    t: &Ticket,
    now: DateTime<Utc>,
    cal: &Calendar,
) -> Result<(), Error> {
    ticket::Entity::insert(ticket_row(t, now, cal)?)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Writes `t` if the stored revision is still `t.revision - 1`; false when it moved.
pub async fn update_ticket(
    conn: &impl ConnectionTrait,
    t: &Ticket,
    now: DateTime<Utc>,
    cal: &Calendar,
) -> Result<bool, Error> {
    let mut row = ticket_row(t, now, cal)?;
    row.id = sea_orm::ActiveValue::NotSet;
    let res = ticket::Entity::update_many()
        .set(row)
        .filter(ticket::Column::Id.eq(t.id.0))
        .filter(ticket::Column::Revision.eq(t.revision - 1))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn find_ticket(
    conn: &impl ConnectionTrait,
    id: TicketId,
) -> Result<Option<Ticket>, Error> {
    ticket::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .map(ticket_from_row)
        .transpose()
}

/// Reads a ticket for writing (`FOR UPDATE` on PostgreSQL; SQLite serialises writers).
pub async fn lock_ticket(
    conn: &impl ConnectionTrait,
    id: TicketId,
) -> Result<Option<Ticket>, Error> {
    ticket::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .map(ticket_from_row)
        .transpose()
}

pub use crate::domain::TicketQuery;

/// Tickets whose SLA state at `now` is `state`, as conditions whose union it is (each an
/// equality on the stored state, so each reads one index range). The stored state is the
/// one at the last write; the only change time makes on its own is a running target falling
/// due (active -> active with misses), and `next_check` is the earliest such due time, so the
/// two columns together give the state at `now` without waiting for the SLA job.
fn sla_state_is(state: SlaState, now: DateTime<Utc>) -> Vec<sea_orm::Condition> {
    use ticket::Column as C;
    let stored = |s: SlaState| sea_orm::Condition::all().add(C::SlaState.eq(s.as_str()));
    match state {
        SlaState::Active => vec![
            stored(SlaState::Active).add(
                sea_orm::Condition::any()
                    .add(C::NextCheck.is_null())
                    .add(C::NextCheck.gte(now)),
            ),
        ],
        SlaState::ActiveWithMisses => vec![
            stored(SlaState::ActiveWithMisses),
            stored(SlaState::Active).add(C::NextCheck.lt(now)),
        ],
        SlaState::Hit | SlaState::Missed | SlaState::NotApplicable => vec![stored(state)],
    }
}

/// The statements of one ListTickets page: newest first, after the (create_time, id) cursor,
/// SLA states as of `now`. Each is one ordered index range (an index per filter column leads
/// with it, then create_time and id); a filter that is a union of two ranges (SLA state
/// `active_with_misses`: stored so, or active and fallen due) is two statements, merged by
/// [`list_tickets`].
pub fn list_selects(
    q: &TicketQuery,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
    now: DateTime<Utc>,
) -> Vec<sea_orm::Select<ticket::Entity>> {
    use ticket::Column as C;
    let mut s = ticket::Entity::find();
    if let Some(v) = q.status {
        s = s.filter(C::Status.eq(v.as_str()));
    }
    if let Some(v) = q.priority {
        s = s.filter(C::Priority.eq(v.as_str()));
    }
    if let Some(v) = q.team {
        s = s.filter(C::TeamId.eq(v.0));
    }
    if let Some(v) = q.assignee {
        s = s.filter(C::AssigneeId.eq(v.0));
    }
    if let Some(v) = q.customer {
        s = s.filter(C::CustomerId.eq(v.0));
    }
    if let Some(v) = q.channel {
        s = s.filter(C::Channel.eq(v.as_str()));
    }
    if let Some(v) = q.category {
        s = s.filter(C::Category.eq(v.as_str()));
    }
    if let Some(v) = q.created_after {
        s = s.filter(C::CreateTime.gte(v));
    }
    if let Some(v) = q.created_before {
        s = s.filter(C::CreateTime.lt(v));
    }
    if let Some((t, id)) = cursor {
        s = s.filter(
            Expr::tuple([Expr::col(C::CreateTime), Expr::col(C::Id)])
                .lt(Expr::tuple([Expr::value(t), Expr::value(id)])),
        );
    }
    let parts = match q.sla_state {
        None => vec![s],
        Some(v) => sla_state_is(v, now)
            .into_iter()
            .map(|c| s.clone().filter(c))
            .collect(),
    };
    parts
        .into_iter()
        .map(|s| {
            s.order_by_desc(C::CreateTime)
                .order_by_desc(C::Id)
                .limit(limit)
        })
        .collect()
}

/// Newest first, after the (create_time, id) cursor; SLA states as of `now`.
pub async fn list_tickets(
    conn: &impl ConnectionTrait,
    q: &TicketQuery,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
    now: DateTime<Utc>,
) -> Result<Vec<Ticket>, Error> {
    let mut rows = Vec::new();
    for s in list_selects(q, cursor, limit, now) {
        rows.extend(s.all(conn).await?);
    }
    // Each part is in order; together, the newest `limit` of their union.
    rows.sort_by_key(|r| std::cmp::Reverse((r.create_time, r.id)));
    rows.dedup_by_key(|r| r.id);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    rows.into_iter().map(ticket_from_row).collect()
}

/// The SLA job's work list: open tickets with a due time before `now`, earliest first.
pub fn due_select(now: DateTime<Utc>, limit: u64) -> sea_orm::Select<ticket::Entity> {
    ticket::Entity::find()
        .filter(ticket::Column::NextCheck.lt(now))
        .order_by_asc(ticket::Column::NextCheck)
        .limit(limit)
}

/// Open tickets with a due time before `now` (the SLA job's work list).
pub async fn due_tickets(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<TicketId>, Error> {
    Ok(due_select(now, limit)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| TicketId(r.id))
        .collect())
}

/// The verification pass's work list: tickets whose customer is not confirmed yet, oldest
/// first.
pub fn unverified_select(limit: u64) -> sea_orm::Select<ticket::Entity> {
    ticket::Entity::find()
        .filter(ticket::Column::CustomerCheck.eq("unverified"))
        .order_by_asc(ticket::Column::CreateTime)
        .order_by_asc(ticket::Column::Id)
        .limit(limit)
}

/// Tickets whose customer is not confirmed yet.
pub async fn unverified_tickets(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<Ticket>, Error> {
    unverified_select(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(ticket_from_row)
        .collect()
}

/// Fills the derived columns of up to `limit` rows written before they existed (see
/// [`convert::TICKET_COLUMNS_VERSION`]); the doc and revision stay as they are. Returns how
/// many rows were filled (0: none left).
pub async fn backfill_ticket_columns(
    conn: &impl ConnectionTrait,
    cal: &Calendar,
    limit: u64,
) -> Result<u64, Error> {
    use ticket::Column as C;
    let rows = ticket::Entity::find()
        .filter(C::ColumnsVersion.lt(TICKET_COLUMNS_VERSION))
        .limit(limit)
        .all(conn)
        .await?;
    let n = rows.len() as u64;
    for r in rows {
        let id = r.id;
        let t = ticket_from_row(r)?;
        let [(fr, frb), (res, resb)] = durations(&t, cal);
        ticket::Entity::update_many()
            .col_expr(C::FirstResponseSeconds, Expr::value(fr))
            .col_expr(C::FirstResponseBusinessSeconds, Expr::value(frb))
            .col_expr(C::ResolutionSeconds, Expr::value(res))
            .col_expr(C::ResolutionBusinessSeconds, Expr::value(resb))
            .col_expr(C::Merged, Expr::value(t.merged_into.is_some()))
            .col_expr(C::ColumnsVersion, Expr::value(TICKET_COLUMNS_VERSION))
            .filter(C::Id.eq(id))
            // A concurrent write wrote the columns itself.
            .filter(C::ColumnsVersion.lt(TICKET_COLUMNS_VERSION))
            .exec(conn)
            .await?;
    }
    Ok(n)
}

// ---- messages ---------------------------------------------------------------------------

pub async fn insert_message(conn: &impl ConnectionTrait, m: &Message) -> Result<(), Error> {
    message::Entity::insert(message_row(m)?)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// One ListMessages page: oldest first, after the (create_time, id) cursor.
pub fn list_messages_select(
    ticket: TicketId,
    public_only: bool,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> sea_orm::Select<message::Entity> {
    use message::Column as C;
    let mut s = message::Entity::find().filter(C::TicketId.eq(ticket.0));
    if public_only {
        s = s.filter(C::Kind.eq("public_reply"));
    }
    if let Some((t, id)) = cursor {
        s = s.filter(
            Expr::tuple([Expr::col(C::CreateTime), Expr::col(C::Id)])
                .gt(Expr::tuple([Expr::value(t), Expr::value(id)])),
        );
    }
    s.order_by_asc(C::CreateTime)
        .order_by_asc(C::Id)
        .limit(limit)
}

/// Oldest first, after the (create_time, id) cursor.
pub async fn list_messages(
    conn: &impl ConnectionTrait,
    ticket: TicketId,
    public_only: bool,
    cursor: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Vec<Message>, Error> {
    list_messages_select(ticket, public_only, cursor, limit)
        .all(conn)
        .await?
        .into_iter()
        .map(message_from_row)
        .collect()
}

/// Moves every message of `from` to `to`, remembering where each was written first.
pub async fn move_messages(
    conn: &impl ConnectionTrait,
    from: TicketId,
    to: TicketId,
) -> Result<u64, Error> {
    use message::Column as C;
    message::Entity::update_many()
        .col_expr(C::OriginTicketId, Expr::value(Some(from.0)))
        .filter(C::TicketId.eq(from.0))
        .filter(C::OriginTicketId.is_null())
        .exec(conn)
        .await?;
    Ok(message::Entity::update_many()
        .col_expr(C::TicketId, Expr::value(to.0))
        .filter(C::TicketId.eq(from.0))
        .exec(conn)
        .await?
        .rows_affected)
}

// ---- teams ------------------------------------------------------------------------------

pub async fn insert_team(conn: &impl ConnectionTrait, t: &Team) -> Result<(), Error> {
    team::Entity::insert(team_row(t)?)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub async fn update_team(conn: &impl ConnectionTrait, t: &Team) -> Result<bool, Error> {
    let res = team::Entity::update_many()
        .col_expr(team::Column::Revision, Expr::value(t.revision))
        .col_expr(
            team::Column::Doc,
            Expr::value(serde_json::to_string(t).map_err(Error::internal)?),
        )
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

// ---- agents -----------------------------------------------------------------------------

pub async fn insert_agent(conn: &impl ConnectionTrait, a: &Agent) -> Result<(), Error> {
    agent::Entity::insert(agent_row(a)?)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Writes the profile (not the load counters) if the revision is still `a.revision - 1`.
pub async fn update_agent(conn: &impl ConnectionTrait, a: &Agent) -> Result<bool, Error> {
    use agent::Column as C;
    let res = agent::Entity::update_many()
        .col_expr(C::Revision, Expr::value(a.revision))
        .col_expr(C::TeamId, Expr::value(a.team.0))
        .col_expr(C::MaxOpenTickets, Expr::value(a.max_open_tickets))
        .col_expr(C::Available, Expr::value(a.available))
        .col_expr(
            C::Doc,
            Expr::value(serde_json::to_string(a).map_err(Error::internal)?),
        )
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

// ---- macros -----------------------------------------------------------------------------

/// False when the code is taken.
pub async fn insert_macro(conn: &impl ConnectionTrait, m: &Macro) -> Result<bool, Error> {
    let n = macro_::Entity::insert(macro_row(m)?)
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(n, sea_orm::TryInsertResult::Inserted(1)))
}

pub async fn find_macro(conn: &impl ConnectionTrait, code: &str) -> Result<Option<Macro>, Error> {
    macro_::Entity::find_by_id(code.to_owned())
        .one(conn)
        .await?
        .map(macro_from_row)
        .transpose()
}

/// One ListMacros page, in code order after `after`.
pub fn list_macros_select(after: Option<String>, limit: u64) -> sea_orm::Select<macro_::Entity> {
    let mut s = macro_::Entity::find();
    if let Some(a) = after {
        s = s.filter(macro_::Column::Code.gt(a));
    }
    s.order_by_asc(macro_::Column::Code).limit(limit)
}

pub async fn list_macros(
    conn: &impl ConnectionTrait,
    after: Option<String>,
    limit: u64,
) -> Result<Vec<Macro>, Error> {
    list_macros_select(after, limit)
        .all(conn)
        .await?
        .into_iter()
        .map(macro_from_row)
        .collect()
}

pub async fn delete_macro(conn: &impl ConnectionTrait, code: &str) -> Result<bool, Error> {
    Ok(macro_::Entity::delete_by_id(code.to_owned())
        .exec(conn)
        .await?
        .rows_affected
        == 1)
}

// ---- satisfaction -----------------------------------------------------------------------

/// False when this survey of the ticket was answered already.
pub async fn insert_satisfaction(
    conn: &impl ConnectionTrait,
    s: &Satisfaction,
) -> Result<bool, Error> {
    let n = satisfaction::Entity::insert(satisfaction_row(s)?)
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(n, sea_orm::TryInsertResult::Inserted(1)))
}

/// The answer to survey `survey` of a ticket, if given.
pub async fn answer_of(
    conn: &impl ConnectionTrait,
    ticket: TicketId,
    survey: i32,
) -> Result<Option<Satisfaction>, Error> {
    satisfaction::Entity::find_by_id((ticket.0, survey))
        .one(conn)
        .await?
        .map(satisfaction_from_row)
        .transpose()
}

/// Whether an earlier survey of the ticket with this token was answered.
pub async fn token_answered(
    conn: &impl ConnectionTrait,
    ticket: TicketId,
    token: &str,
) -> Result<bool, Error> {
    Ok(satisfaction::Entity::find()
        .filter(satisfaction::Column::TicketId.eq(ticket.0))
        .filter(satisfaction::Column::SurveyToken.eq(token))
        .one(conn)
        .await?
        .is_some())
}

/// The goodwill pass's work list: answers whose award is still owed, oldest first.
pub fn pending_goodwill_select(limit: u64) -> sea_orm::Select<satisfaction::Entity> {
    satisfaction::Entity::find()
        .filter(satisfaction::Column::GoodwillPending.eq(true))
        .order_by_asc(satisfaction::Column::SubmitTime)
        .limit(limit)
}

/// Answers whose goodwill award is still owed, oldest first.
pub async fn pending_goodwill(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<Satisfaction>, Error> {
    pending_goodwill_select(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(satisfaction_from_row)
        .collect()
}

/// Writes the settled goodwill of `s` if it was still pending; false when another pass
/// settled it first.
pub async fn settle_goodwill(conn: &impl ConnectionTrait, s: &Satisfaction) -> Result<bool, Error> {
    let mut row = satisfaction_row(s)?;
    row.ticket_id = sea_orm::ActiveValue::NotSet;
    row.survey = sea_orm::ActiveValue::NotSet;
    let res = satisfaction::Entity::update_many()
        .set(row)
        .filter(satisfaction::Column::TicketId.eq(s.ticket.0))
        .filter(satisfaction::Column::Survey.eq(s.survey))
        .filter(satisfaction::Column::GoodwillPending.eq(true))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

// ---- SLA events -------------------------------------------------------------------------

/// Claims the handling of one breach: true for exactly one caller per (ticket, target, due).
pub async fn claim_breach(
    conn: &impl ConnectionTrait,
    ticket: TicketId,
    target: Target,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    action: &str,
) -> Result<bool, Error> {
    let n = sla_event::Entity::insert(sla_event::ActiveModel {
        ticket_id: Set(ticket.0),
        target: Set(target.as_str().to_owned()),
        due_time: Set(due),
        create_time: Set(now),
        action: Set(action.to_owned()),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(conn)
    .await?;
    Ok(matches!(n, sea_orm::TryInsertResult::Inserted(1)))
}

/// The recorded breaches of a ticket: (target, due, action).
pub async fn sla_events(
    conn: &impl ConnectionTrait,
    ticket: TicketId,
) -> Result<Vec<(String, DateTime<Utc>, String)>, Error> {
    Ok(sla_event::Entity::find()
        .filter(sla_event::Column::TicketId.eq(ticket.0))
        .order_by_asc(sla_event::Column::CreateTime)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.target, r.due_time, r.action))
        .collect())
}
