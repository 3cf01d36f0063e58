//! Message rows: a ticket's thread in order, and the move of a thread on merge.
use super::convert::{message_from_row, message_row};
use super::entities::message;
use crate::domain::{Message, TicketId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

pub async fn insert_message(conn: &impl ConnectionTrait, m: &Message) -> Result<(), Error> {
    message::Entity::insert(message_row(m)?)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Inserts `messages` in one statement (callers bound how many).
pub async fn insert_messages(
    conn: &impl ConnectionTrait,
    messages: &[Message],
) -> Result<(), Error> {
    if messages.is_empty() {
        return Ok(());
    }
    let rows = messages
        .iter()
        .map(message_row)
        .collect::<Result<Vec<_>, _>>()?;
    message::Entity::insert_many(rows)
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
