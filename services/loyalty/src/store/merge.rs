//! The statements of merges and erasure: moving a loser's rows to the survivor, the
//! survivor a closed wallet names, the qualifying history a merge carries over (a page at a
//! time), and scrubbing transactions' free text. Each is one statement over an indexed
//! range, so nothing is loaded whole. Only used under the wallet locks.
use super::entities::{hold, lot, order, transaction, wallet};
use crate::domain::{CustomerId, Transaction};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// The survivor `customer`'s wallet was merged into: `None` when it has no wallet or an
/// open one.
pub async fn merged_into(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
) -> Result<Option<CustomerId>, Error> {
    let found: Option<Option<Uuid>> = wallet::Entity::find_by_id(customer.0)
        .select_only()
        .column(wallet::Column::MergedInto)
        .into_tuple()
        .one(conn)
        .await?;
    Ok(found.flatten().map(CustomerId))
}

/// Gives `loser`'s lots (emptied ones too, which its holds may give back to), holds and
/// orders to `survivor`, ids unchanged. An order id the survivor has already stays with
/// the loser (its state cannot be added to another order's).
pub async fn move_rows(
    conn: &impl ConnectionTrait,
    loser: CustomerId,
    survivor: CustomerId,
) -> Result<(), Error> {
    lot::Entity::update_many()
        .col_expr(lot::Column::CustomerId, Expr::value(survivor.0))
        .filter(lot::Column::CustomerId.eq(loser.0))
        .exec(conn)
        .await?;
    hold::Entity::update_many()
        .col_expr(hold::Column::CustomerId, Expr::value(survivor.0))
        .filter(hold::Column::CustomerId.eq(loser.0))
        .exec(conn)
        .await?;
    let survivors_orders = Query::select()
        .column(order::Column::OrderId)
        .from(order::Entity)
        .and_where(order::Column::CustomerId.eq(survivor.0))
        .to_owned();
    order::Entity::update_many()
        .col_expr(order::Column::CustomerId, Expr::value(survivor.0))
        .filter(order::Column::CustomerId.eq(loser.0))
        .filter(order::Column::OrderId.not_in_subquery(survivors_orders))
        .exec(conn)
        .await?;
    Ok(())
}

/// Wallets merged into `loser` earlier now name `survivor`, so every closed wallet names
/// an open one.
pub async fn repoint(
    conn: &impl ConnectionTrait,
    loser: CustomerId,
    survivor: CustomerId,
) -> Result<(), Error> {
    wallet::Entity::update_many()
        .col_expr(wallet::Column::MergedInto, Expr::value(survivor.0))
        .filter(wallet::Column::MergedInto.eq(loser.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// One page of `customer`'s qualifying history dated at or after `since`, in chain order
/// after `after_sequence`: (sequence, qualify time, delta).
pub async fn qualifying_page(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    since: DateTime<Utc>,
    after_sequence: i64,
    limit: u64,
) -> Result<Vec<(i64, DateTime<Utc>, i64)>, Error> {
    use transaction::Column as C;
    Ok(transaction::Entity::find()
        .select_only()
        .columns([C::Sequence, C::QualifyTime, C::QualifyingDelta])
        .filter(C::CustomerId.eq(customer.0))
        .filter(C::Sequence.gt(after_sequence))
        .filter(C::QualifyingDelta.ne(0))
        .filter(C::QualifyTime.gte(since))
        .order_by_asc(C::Sequence)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?)
}

/// The sum of `customer`'s qualifying deltas dated in `[from, to]` (summed by the database).
pub async fn qualifying_sum(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64, Error> {
    use transaction::Column as C;
    let sum: Option<i64> = transaction::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(qualifying_delta), 0) AS BIGINT)"),
            "total",
        )
        .filter(
            Condition::all()
                .add(C::CustomerId.eq(customer.0))
                .add(C::QualifyingDelta.ne(0))
                .add(C::QualifyTime.gte(from))
                .add(C::QualifyTime.lte(to)),
        )
        .into_tuple()
        .one(conn)
        .await?;
    Ok(sum.unwrap_or(0))
}

/// Clears the free text of transactions `ids` (their digests and hashes stay).
pub async fn clear_text(conn: &impl ConnectionTrait, ids: Vec<Uuid>) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    transaction::Entity::update_many()
        .col_expr(transaction::Column::Reason, Expr::value(""))
        .col_expr(transaction::Column::Actor, Expr::value(""))
        .filter(transaction::Column::Id.is_in(ids))
        .exec(conn)
        .await?;
    Ok(())
}

/// Stores a scrubbed transaction linked again (a row from before digests, or one after it).
pub async fn relink(conn: &impl ConnectionTrait, t: &Transaction) -> Result<(), Error> {
    use transaction::Column as C;
    transaction::Entity::update_many()
        .col_expr(C::Reason, Expr::value(t.reason.clone()))
        .col_expr(C::Actor, Expr::value(t.actor.clone()))
        .col_expr(C::TextDigest, Expr::value(t.text_digest.clone()))
        .col_expr(C::PrevHash, Expr::value(t.prev_hash.clone()))
        .col_expr(C::Hash, Expr::value(t.hash.clone()))
        .filter(C::Id.eq(t.id))
        .exec(conn)
        .await?;
    Ok(())
}
