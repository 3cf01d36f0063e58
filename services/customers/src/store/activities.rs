//! Activity queries and the purchase and refund aggregates behind insights.
use super::convert::{activity_from_row, activity_to_row};
use super::entities::activity;
use crate::domain::insights::{CurrencyTotal, KindTotals, PurchaseSummary, RECENT_WINDOW};
use crate::domain::{Activity, ActivityKind, CustomerId};
use chrono::{DateTime, Duration, Utc};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub async fn insert(conn: &impl ConnectionTrait, keys: &Keys, a: &Activity) -> Result<(), Error> {
    activity::Entity::insert(activity_to_row(a, keys)?)
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
pub async fn list(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    q: &ActivityQuery,
) -> Result<Vec<Activity>, Error> {
    let rows = list_select(q).all(conn).await?;
    rows.into_iter()
        .map(|r| activity_from_row(r, keys))
        .collect()
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
    keys: &Keys,
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
    rows.into_iter()
        .map(|r| activity_from_row(r, keys))
        .collect()
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
pub async fn scrub(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    customer: CustomerId,
) -> Result<(), Error> {
    let mut after: Option<Cursor> = None;
    loop {
        let chunk = page_of(conn, keys, customer, after.as_ref(), SCRUB_CHUNK).await?;
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
            let mut row = activity_to_row(&a, keys)?;
            row.id = sea_orm::ActiveValue::Unchanged(a.id);
            activity::Entity::update(row).exec(conn).await?;
        }
    }
}

const SCRUB_CHUNK: u64 = 500;

/// A customer's activities of one kind, optionally only those at or after `since`.
fn of_kind(
    customer: CustomerId,
    kind: ActivityKind,
    since: Option<DateTime<Utc>>,
) -> Select<activity::Entity> {
    let mut find = activity::Entity::find()
        .filter(activity::Column::CustomerId.eq(customer.0))
        .filter(activity::Column::Kind.eq(kind.as_str()));
    if let Some(s) = since {
        find = find.filter(activity::Column::OccurTime.gte(s));
    }
    find
}

/// Rows and amounts of one kind (purchases, refunds) per currency, summed by the database.
/// An amount is summed as its high and low 32 bits (`a = (a / 2^32) * 2^32 + a % 2^32`,
/// truncating on both backends), so no sum can overflow (SQLite's SUM raises "integer
/// overflow" past `i64::MAX`; rows stored before amounts were bounded may hold `i64::MAX`)
/// until 2^31 rows; Rust adds them in 128 bits.
pub fn currency_totals_select(
    customer: CustomerId,
    kind: ActivityKind,
    since: Option<DateTime<Utc>>,
) -> Select<activity::Entity> {
    let part = |op: &str| {
        Expr::cust(format!(
            "CAST(COALESCE(SUM(amount_minor {op} 4294967296), 0) AS BIGINT)"
        ))
    };
    of_kind(customer, kind, since)
        .select_only()
        .column(activity::Column::Currency)
        .column_as(Expr::col(activity::Column::Id).count(), "orders")
        .column_as(Expr::col(activity::Column::AmountMinor).count(), "priced")
        .column_as(part("/"), "high")
        .column_as(part("%"), "low")
        .group_by(activity::Column::Currency)
}

async fn currency_totals(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    kind: ActivityKind,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<CurrencyTotal>, Error> {
    let rows: Vec<(Option<String>, i64, i64, i64, i64)> =
        currency_totals_select(customer, kind, since)
            .into_tuple()
            .all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(currency, orders, priced, high, low)| CurrencyTotal {
            currency,
            orders,
            priced_orders: priced,
            total_minor: i128::from(high) * (1 << 32) + i128::from(low),
        })
        .collect())
}

/// One kind's totals per currency, ever and since a year before `now`.
async fn kind_totals(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    kind: ActivityKind,
    now: DateTime<Utc>,
) -> Result<KindTotals, Error> {
    Ok(KindTotals {
        ever: currency_totals(conn, customer, kind, None).await?,
        last_year: currency_totals(conn, customer, kind, Some(now - Duration::days(365))).await?,
    })
}

/// The most recent purchase times, newest first: the index range of the customer's
/// purchases read backwards, [`RECENT_WINDOW`] rows.
pub fn recent_purchases_select(customer: CustomerId) -> Select<activity::Entity> {
    of_kind(customer, ActivityKind::Purchase, None)
        .select_only()
        .column(activity::Column::OccurTime)
        .order_by_desc(activity::Column::OccurTime)
        .limit(RECENT_WINDOW as u64)
}

/// What insights need of a customer's purchases and refunds, in a fixed number of queries
/// whose results are bounded (a row per currency, [`RECENT_WINDOW`] times) however long the
/// history.
pub async fn purchase_summary(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    now: DateTime<Utc>,
) -> Result<PurchaseSummary, Error> {
    let purchases = kind_totals(conn, customer, ActivityKind::Purchase, now).await?;
    let refunds = kind_totals(conn, customer, ActivityKind::Refund, now).await?;
    let recent: Vec<DateTime<Utc>> = recent_purchases_select(customer)
        .into_tuple()
        .all(conn)
        .await?;
    let first: Option<DateTime<Utc>> = of_kind(customer, ActivityKind::Purchase, None)
        .select_only()
        .column(activity::Column::OccurTime)
        .order_by_asc(activity::Column::OccurTime)
        .limit(1)
        .into_tuple()
        .one(conn)
        .await?;
    let complaints = activity::Entity::find()
        .filter(activity::Column::CustomerId.eq(customer.0))
        .filter(activity::Column::Kind.eq(ActivityKind::Complaint.as_str()))
        .filter(activity::Column::OccurTime.gte(now - Duration::days(90)))
        .count(conn)
        .await?;
    Ok(PurchaseSummary::from_totals(
        &purchases,
        &refunds,
        recent,
        first,
        i64::try_from(complaints).unwrap_or(i64::MAX),
    ))
}

/// Activities belonging to any of `customers`.
pub async fn count_of(conn: &impl ConnectionTrait, customers: &[Uuid]) -> Result<u64, Error> {
    Ok(activity::Entity::find()
        .filter(activity::Column::CustomerId.is_in(customers.to_vec()))
        .count(conn)
        .await?)
}
