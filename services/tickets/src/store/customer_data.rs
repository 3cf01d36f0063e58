//! What customers' merges and erasures do to the rows: a customer's tickets a page at a
//! time, re-pointed to another customer, or scrubbed of every text a person wrote or that
//! names one (the ids, statuses, times and scores stay). Each page is a few statements
//! whatever its size, and a page is bounded, so a customer with 10k tickets is 20 pages.
use super::entities::{customer_merge, message, satisfaction, ticket};
use super::lists;
use crate::domain::{CustomerId, TicketId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// What erased text is replaced with.
pub const ERASED: &str = "[erased]";

/// Up to `limit` ids of the tickets of `customers` after `after`, in id order.
pub async fn tickets_of_customers(
    conn: &impl ConnectionTrait,
    customers: &[CustomerId],
    after: Option<TicketId>,
    limit: u64,
) -> Result<Vec<TicketId>, Error> {
    use ticket::Column as C;
    let mut s = ticket::Entity::find()
        .select_only()
        .column(C::Id)
        .filter(C::CustomerId.is_in(customers.iter().map(|c| c.0)));
    if let Some(a) = after {
        s = s.filter(C::Id.gt(a.0));
    }
    let ids: Vec<uuid::Uuid> = s
        .order_by_asc(C::Id)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(ids.into_iter().map(TicketId).collect())
}

/// Files `tickets` of `from` under `to` (revision + 1: callers' etags move on).
pub async fn repoint_tickets(
    conn: &impl ConnectionTrait,
    tickets: &[TicketId],
    from: CustomerId,
    to: CustomerId,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    use ticket::Column as C;
    Ok(ticket::Entity::update_many()
        .col_expr(C::CustomerId, Expr::value(to.0))
        .col_expr(C::Revision, Expr::col(C::Revision).add(1))
        .col_expr(C::UpdateTime, Expr::value(now))
        .filter(C::Id.is_in(tickets.iter().map(|t| t.0)))
        .filter(C::CustomerId.eq(from.0))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Scrubs `tickets` and everything written on them: subjects, descriptions and tags; the
/// bodies and attachments of messages and notes people wrote (the service's own system notes
/// name no one and stay); survey comments; the stored idempotent responses about them (they
/// repeat that text). Returns the records changed.
pub async fn scrub_tickets(
    conn: &impl ConnectionTrait,
    tickets: &[TicketId],
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let ids = || tickets.iter().map(|t| t.0);
    let none: Vec<String> = Vec::new();
    let empty = lists::encode(&none)?;
    let mut changed = {
        use ticket::Column as C;
        ticket::Entity::update_many()
            .col_expr(C::Subject, Expr::value(ERASED))
            .col_expr(C::Description, Expr::value(ERASED))
            .col_expr(C::Tags, Expr::value(empty.clone()))
            .col_expr(C::Revision, Expr::col(C::Revision).add(1))
            .col_expr(C::UpdateTime, Expr::value(now))
            .filter(C::Id.is_in(ids()))
            .exec(conn)
            .await?
            .rows_affected
    };
    changed += {
        use message::Column as C;
        message::Entity::update_many()
            .col_expr(C::Body, Expr::value(ERASED))
            .col_expr(C::Attachments, Expr::value(empty))
            .filter(C::TicketId.is_in(ids()))
            .filter(C::Kind.ne("system"))
            .exec(conn)
            .await?
            .rows_affected
    };
    changed += {
        use satisfaction::Column as C;
        satisfaction::Entity::update_many()
            .col_expr(C::Comment, Expr::value(ERASED))
            .filter(C::TicketId.is_in(ids()))
            .filter(C::Comment.ne(""))
            .exec(conn)
            .await?
            .rows_affected
    };
    forget_responses(conn, tickets).await?;
    Ok(changed)
}

/// Drops the stored responses about `tickets` and the messages people wrote on them (each
/// named as when it was written: under the ticket it was first posted on), by exact resource
/// name (the indexed column), the messages a bounded page at a time.
async fn forget_responses(conn: &impl ConnectionTrait, tickets: &[TicketId]) -> Result<(), Error> {
    use crm_platform::idempotency::{Column as K, Entity as Keys};
    const MESSAGES_PAGE: u64 = 1000;
    let names: Vec<String> = tickets.iter().map(TicketId::name).collect();
    Keys::delete_many()
        .filter(K::Resource.is_in(names))
        .exec(conn)
        .await?;
    let mut after: Option<uuid::Uuid> = None;
    loop {
        use message::Column as C;
        let mut q = message::Entity::find()
            .select_only()
            .columns([C::Id, C::TicketId, C::OriginTicketId])
            .filter(C::TicketId.is_in(tickets.iter().map(|t| t.0)))
            .filter(C::Kind.ne("system"));
        if let Some(a) = after {
            q = q.filter(C::Id.gt(a));
        }
        let page: Vec<(uuid::Uuid, uuid::Uuid, Option<uuid::Uuid>)> = q
            .order_by_asc(C::Id)
            .limit(MESSAGES_PAGE)
            .into_tuple()
            .all(conn)
            .await?;
        let Some(&(last, _, _)) = page.last() else {
            return Ok(());
        };
        let names: Vec<String> = page
            .iter()
            .map(|&(id, ticket, origin)| {
                format!(
                    "{}/messages/{id}",
                    TicketId(origin.unwrap_or(ticket)).name()
                )
            })
            .collect();
        Keys::delete_many()
            .filter(K::Resource.is_in(names))
            .exec(conn)
            .await?;
        if (page.len() as u64) < MESSAGES_PAGE {
            return Ok(());
        }
        after = Some(last);
    }
}

/// Longest chain of merges [`final_survivor`] follows (a cycle cannot form, customers
/// refuses merging a merged-away customer; this only bounds the walk).
const MAX_MERGE_CHAIN: usize = 64;

/// Records that `loser` was merged into `survivor` (a repeat changes nothing).
pub async fn record_merge(
    conn: &impl ConnectionTrait,
    loser: CustomerId,
    survivor: CustomerId,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    customer_merge::Entity::insert(customer_merge::ActiveModel {
        loser: sea_orm::Set(loser.0),
        survivor: sea_orm::Set(survivor.0),
        merge_time: sea_orm::Set(now),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// `survivor`, or the customer it was merged into since (following recorded merges).
pub async fn final_survivor(
    conn: &impl ConnectionTrait,
    survivor: CustomerId,
) -> Result<CustomerId, Error> {
    let mut at = survivor;
    for _ in 0..MAX_MERGE_CHAIN {
        match customer_merge::Entity::find_by_id(at.0).one(conn).await? {
            Some(m) if m.survivor != at.0 => at = CustomerId(m.survivor),
            _ => break,
        }
    }
    Ok(at)
}
