//! Activity queries and the purchase aggregates behind insights.
use super::convert::{activity_from_row, activity_to_row};
use super::entities::activity;
use crate::domain::insights::{Purchase, PurchaseSummary};
use crate::domain::{Activity, ActivityKind, CustomerId, Money};
use chrono::{DateTime, Duration, Utc};
use crm_platform::Error;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub async fn insert(conn: &impl ConnectionTrait, a: &Activity) -> Result<(), Error> {
    activity::Entity::insert(activity_to_row(a)?)
        .exec(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    pub t: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(Debug, Clone)]
pub struct ActivityQuery {
    pub customer: CustomerId,
    pub kind: Option<ActivityKind>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub after: Option<Cursor>,
    pub limit: u64,
}

/// Newest first: one ordered range of `idx_activities_customer_time`, or with a kind of
/// `idx_activities_customer_kind_time`.
pub async fn list(conn: &impl ConnectionTrait, q: &ActivityQuery) -> Result<Vec<Activity>, Error> {
    let rows = list_select(q).all(conn).await?;
    rows.into_iter().map(activity_from_row).collect()
}

/// The query behind [`list`] (public so tests can EXPLAIN it).
pub fn list_select(q: &ActivityQuery) -> sea_orm::Select<activity::Entity> {
    let mut find = activity::Entity::find().filter(activity::Column::CustomerId.eq(q.customer.0));
    if let Some(k) = q.kind {
        find = find.filter(activity::Column::Kind.eq(k.as_str()));
    }
    if let Some(s) = q.start {
        find = find.filter(activity::Column::OccurTime.gte(s));
    }
    if let Some(e) = q.end {
        find = find.filter(activity::Column::OccurTime.lt(e));
    }
    if let Some(c) = &q.after {
        find = find.filter(
            Expr::tuple([
                Expr::col(activity::Column::OccurTime),
                Expr::col(activity::Column::Id),
            ])
            .lt(Expr::tuple([Expr::value(c.t), Expr::value(c.id)])),
        );
    }
    find.order_by_desc(activity::Column::OccurTime)
        .order_by_desc(activity::Column::Id)
        .limit(q.limit)
}

/// A customer's activities oldest first, `limit` at a time after `after` (export, erasure).
pub async fn page_of(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    after: Option<&Cursor>,
    limit: u64,
) -> Result<Vec<Activity>, Error> {
    let mut find = activity::Entity::find().filter(activity::Column::CustomerId.eq(customer.0));
    if let Some(c) = after {
        find = find.filter(
            Expr::tuple([
                Expr::col(activity::Column::OccurTime),
                Expr::col(activity::Column::Id),
            ])
            .gt(Expr::tuple([Expr::value(c.t), Expr::value(c.id)])),
        );
    }
    let rows = find
        .order_by_asc(activity::Column::OccurTime)
        .order_by_asc(activity::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    rows.into_iter().map(activity_from_row).collect()
}

/// Moves activities of `from` to `to`; returns how many moved.
pub async fn move_all(
    conn: &impl ConnectionTrait,
    from: &[Uuid],
    to: CustomerId,
) -> Result<u64, Error> {
    let res = activity::Entity::update_many()
        .col_expr(activity::Column::CustomerId, Expr::value(to.0))
        .filter(activity::Column::CustomerId.is_in(from.to_vec()))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Erasure: drops free text, references and channels, keeps kinds, times, items and amounts.
/// Reads and rewrites them a chunk at a time, so memory stays bounded.
pub async fn scrub(conn: &impl ConnectionTrait, customer: CustomerId) -> Result<(), Error> {
    let mut after: Option<Cursor> = None;
    loop {
        let chunk = page_of(conn, customer, after.as_ref(), SCRUB_CHUNK).await?;
        let Some(last) = chunk.last() else {
            return Ok(());
        };
        after = Some(Cursor {
            t: last.occur_time,
            id: last.id,
        });
        for mut a in chunk {
            a.text.clear();
            a.reference.clear();
            a.channel.clear();
            let mut row = activity_to_row(&a)?;
            row.id = sea_orm::ActiveValue::Unchanged(a.id);
            activity::Entity::update(row).exec(conn).await?;
        }
    }
}

const SCRUB_CHUNK: u64 = 500;

pub async fn purchase_summary(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    now: DateTime<Utc>,
) -> Result<PurchaseSummary, Error> {
    let rows: Vec<(DateTime<Utc>, Option<String>, Option<i64>)> = activity::Entity::find()
        .select_only()
        .columns([
            activity::Column::OccurTime,
            activity::Column::Currency,
            activity::Column::AmountMinor,
        ])
        .filter(activity::Column::CustomerId.eq(customer.0))
        .filter(activity::Column::Kind.eq(ActivityKind::Purchase.as_str()))
        .order_by_desc(activity::Column::OccurTime)
        .into_tuple()
        .all(conn)
        .await?;
    let complaints = activity::Entity::find()
        .filter(activity::Column::CustomerId.eq(customer.0))
        .filter(activity::Column::Kind.eq(ActivityKind::Complaint.as_str()))
        .filter(activity::Column::OccurTime.gte(now - Duration::days(90)))
        .count(conn)
        .await?;
    let purchases: Vec<Purchase> = rows
        .into_iter()
        .map(|(time, currency, amount)| Purchase {
            time,
            amount: currency.zip(amount).map(|(currency, amount_minor)| Money {
                currency,
                amount_minor,
            }),
        })
        .collect();
    // The sums are the domain's (128-bit, so no stored amount can overflow them).
    Ok(PurchaseSummary::from_purchases(
        &purchases,
        i64::try_from(complaints).unwrap_or(i64::MAX),
        now,
    ))
}

/// Activities belonging to any of `customers`.
pub async fn count_of(conn: &impl ConnectionTrait, customers: &[Uuid]) -> Result<u64, Error> {
    Ok(activity::Entity::find()
        .filter(activity::Column::CustomerId.is_in(customers.to_vec()))
        .count(conn)
        .await?)
}
