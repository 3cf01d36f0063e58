//! Ticket rows: revision-checked writes, the list pages, the job work lists and the backfill
//! of the calendar-derived columns.
use super::convert::{TICKET_COLUMNS_VERSION, durations, ticket_from_row, ticket_row};
use super::entities::ticket;
use crate::domain::{Calendar, SlaState, Ticket, TicketId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

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
