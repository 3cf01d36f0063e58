//! Activity queries and the purchase aggregates behind insights.
use super::convert::{activity_from_row, activity_to_row};
use super::entities::activity;
use crate::domain::insights::{Purchase, PurchaseSummary};
use crate::domain::{Activity, ActivityKind, CustomerId, Money};
use chrono::{DateTime, Duration, Utc};
use crm_platform::Error;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
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

/// Newest first.
pub async fn list(conn: &impl ConnectionTrait, q: &ActivityQuery) -> Result<Vec<Activity>, Error> {
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
            Condition::any()
                .add(activity::Column::OccurTime.lt(c.t))
                .add(
                    Condition::all()
                        .add(activity::Column::OccurTime.eq(c.t))
                        .add(activity::Column::Id.lt(c.id)),
                ),
        );
    }
    let rows = find
        .order_by_desc(activity::Column::OccurTime)
        .order_by_desc(activity::Column::Id)
        .limit(q.limit)
        .all(conn)
        .await?;
    rows.into_iter().map(activity_from_row).collect()
}

/// Every activity of a customer, oldest first (export).
pub async fn all_of(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
) -> Result<Vec<Activity>, Error> {
    let rows = activity::Entity::find()
        .filter(activity::Column::CustomerId.eq(customer.0))
        .order_by_asc(activity::Column::OccurTime)
        .order_by_asc(activity::Column::Id)
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
pub async fn scrub(conn: &impl ConnectionTrait, customer: CustomerId) -> Result<(), Error> {
    for mut a in all_of(conn, customer).await? {
        a.text.clear();
        a.reference.clear();
        a.channel.clear();
        let mut row = activity_to_row(&a)?;
        row.id = sea_orm::ActiveValue::Unchanged(a.id);
        activity::Entity::update(row).exec(conn).await?;
    }
    Ok(())
}

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
