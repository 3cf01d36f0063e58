//! Survey answers, one per survey of a ticket, and the goodwill still owed for them.
use super::convert::{satisfaction_from_row, satisfaction_row};
use super::entities::satisfaction;
use crate::domain::{Satisfaction, TicketId};
use crm_platform::Error;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// False when this survey of the ticket was answered already.
pub async fn insert_satisfaction(
    conn: &impl ConnectionTrait,
    s: &Satisfaction,
) -> Result<bool, Error> {
    let n = satisfaction::Entity::insert(satisfaction_row(s))
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
    Ok(satisfaction::Entity::find_by_id((ticket.0, survey))
        .one(conn)
        .await?
        .map(satisfaction_from_row))
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
    Ok(pending_goodwill_select(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(satisfaction_from_row)
        .collect())
}

/// Writes the settled goodwill of `s` if it was still pending; false when another pass
/// settled it first.
pub async fn settle_goodwill(conn: &impl ConnectionTrait, s: &Satisfaction) -> Result<bool, Error> {
    let mut row = satisfaction_row(s);
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
