//! What the journey job asks of the read model: members of a journey's audience whose date
//! falls on a day, or whose last purchase is long ago, and who have not entered for that
//! occasion yet (so every page is of new entrants, and a run always moves on).
use super::deliveries::FIRST_STEP;
use super::entities::{delivery, member, member_date};
use super::segments::matching;
use crate::domain::CampaignId;
use crate::domain::journey::BIRTHDAY;
use crate::domain::segment::Rule;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::sea_query::{Expr, ExprTrait as _, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// A page of a journey's candidates: the members matching `rule` in id order after `after`.
pub struct Candidates<'a> {
    pub rule: &'a Rule,
    pub keys: &'a Keys,
    pub now: DateTime<Utc>,
    pub campaign: CampaignId,
    pub after: Option<Uuid>,
    pub limit: u64,
}

/// The journey's deliveries of the member row (step 1), as a subquery to add to.
fn entries(campaign: CampaignId) -> SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(delivery::Entity)
        .and_where(delivery::Column::CampaignId.eq(campaign.0))
        .and_where(delivery::Column::Step.eq(FIRST_STEP))
        .and_where(
            Expr::col((delivery::Entity, delivery::Column::CustomerId))
                .equals((member::Entity, member::Column::Id)),
        )
        .to_owned()
}

/// (month, day) columns equal to one of `month_days`.
fn on_days(month: impl ColumnTrait, day: impl ColumnTrait, month_days: &[(u32, u32)]) -> Condition {
    month_days.iter().fold(Condition::any(), |any, (m, d)| {
        let (m, d) = (
            i16::try_from(*m).unwrap_or(0),
            i16::try_from(*d).unwrap_or(0),
        );
        any.add(Condition::all().add(month.eq(m)).add(day.eq(d)))
    })
}

/// Candidates whose `date_kind` ("birthday" or an important date's kind) falls on one of
/// `month_days` and who have no delivery for `occasion`: (customer, time zone).
pub async fn on_date(
    conn: &impl ConnectionTrait,
    c: &Candidates<'_>,
    date_kind: &str,
    month_days: &[(u32, u32)],
    occasion: &str,
) -> Result<Vec<(Uuid, String)>, Error> {
    use member::Column as M;
    let mut q = matching(c.rule, c.keys, c.now);
    q = if date_kind == BIRTHDAY {
        q.filter(on_days(M::BirthMonth, M::BirthDay, month_days))
    } else {
        let dates = Query::select()
            .expr(Expr::val(1))
            .from(member_date::Entity)
            .and_where(member_date::Column::Kind.eq(date_kind))
            .cond_where(on_days(
                member_date::Column::Month,
                member_date::Column::Day,
                month_days,
            ))
            .and_where(
                Expr::col((member_date::Entity, member_date::Column::CustomerId))
                    .equals((member::Entity, M::Id)),
            )
            .to_owned();
        q.filter(Expr::exists(dates))
    };
    let mut entered = entries(c.campaign);
    entered.and_where(delivery::Column::Occasion.eq(occasion));
    q = q.filter(Expr::exists(entered).not());
    if let Some(a) = c.after {
        q = q.filter(M::Id.gt(a));
    }
    Ok(q.select_only()
        .column(M::Id)
        .column(M::TimeZone)
        .order_by_asc(M::Id)
        .limit(c.limit)
        .into_tuple()
        .all(conn)
        .await?)
}

/// Candidates whose last purchase was before `before` and who have not entered since it
/// (no delivery due at or after it: an entry of this lapse is due after the purchase, an
/// earlier lapse's before): (customer, last purchase).
pub async fn lapsed(
    conn: &impl ConnectionTrait,
    c: &Candidates<'_>,
    before: DateTime<Utc>,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, Error> {
    use member::Column as M;
    let mut entered = entries(c.campaign);
    entered.and_where(
        Expr::col((delivery::Entity, delivery::Column::DueTime))
            .gte(Expr::col((member::Entity, M::LastPurchaseTime))),
    );
    let mut q = matching(c.rule, c.keys, c.now)
        .filter(M::LastPurchaseTime.is_not_null())
        .filter(M::LastPurchaseTime.lt(before))
        .filter(Expr::exists(entered).not());
    if let Some(a) = c.after {
        q = q.filter(M::Id.gt(a));
    }
    let rows: Vec<(Uuid, Option<DateTime<Utc>>)> = q
        .select_only()
        .column(M::Id)
        .column(M::LastPurchaseTime)
        .order_by_asc(M::Id)
        .limit(c.limit)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, last)| Some((id, last?)))
        .collect())
}

/// Whether the customer's profile has reached the read model (a first refresh wrote it).
pub async fn profile_arrived(conn: &impl ConnectionTrait, customer: Uuid) -> Result<bool, Error> {
    let found: Option<Uuid> = member::Entity::find_by_id(customer)
        .select_only()
        .column(member::Column::Id)
        .filter(member::Column::Profile.is_not_null())
        .into_tuple()
        .one(conn)
        .await?;
    Ok(found.is_some())
}
