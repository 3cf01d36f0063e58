//! Lots, holds and per-order state. Only written under the wallet lock.
use super::corrupt;
use super::entities::{hold, lot, order};
use crate::domain::reverse::OrderState;
use crate::domain::{Consumption, CustomerId, Hold, HoldState, Lot};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;
use uuid::Uuid;

fn lot_from_row(r: lot::Model) -> Lot {
    Lot {
        id: r.id,
        order_id: r.order_id,
        earn_time: r.earn_time,
        available_time: r.available_time,
        expire_time: r.expire_time,
        amount: r.amount,
        remaining: r.remaining,
    }
}

/// Lots with points left.
pub async fn live(conn: &impl ConnectionTrait, customer: CustomerId) -> Result<Vec<Lot>, Error> {
    Ok(live_many(conn, &[customer])
        .await?
        .remove(&customer)
        .unwrap_or_default())
}

/// [`live`] for many customers in one query.
pub async fn live_many(
    conn: &impl ConnectionTrait,
    customers: &[CustomerId],
) -> Result<std::collections::HashMap<CustomerId, Vec<Lot>>, Error> {
    let mut out: std::collections::HashMap<CustomerId, Vec<Lot>> = Default::default();
    for chunk in customers.chunks(super::ledger::ROWS_PER_STATEMENT) {
        for row in lot::Entity::find()
            .filter(lot::Column::CustomerId.is_in(chunk.iter().map(|c| c.0)))
            .filter(lot::Column::Remaining.gt(0))
            .all(conn)
            .await?
        {
            out.entry(CustomerId(row.customer_id))
                .or_default()
                .push(lot_from_row(row));
        }
    }
    Ok(out)
}

pub async fn by_ids(conn: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<Lot>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(lot::Entity::find()
        .filter(lot::Column::Id.is_in(ids.to_vec()))
        .all(conn)
        .await?
        .into_iter()
        .map(lot_from_row)
        .collect())
}

/// Inserts new lots and updates the points left of existing ones, in one statement.
pub async fn save_lots(
    conn: &impl ConnectionTrait,
    lots: &[(CustomerId, Lot)],
) -> Result<(), Error> {
    for chunk in lots.chunks(super::ledger::ROWS_PER_STATEMENT) {
        lot::Entity::insert_many(chunk.iter().map(|(customer, l)| lot::ActiveModel {
            id: Set(l.id),
            customer_id: Set(customer.0),
            order_id: Set(l.order_id.clone()),
            earn_time: Set(l.earn_time),
            available_time: Set(l.available_time),
            expire_time: Set(l.expire_time),
            amount: Set(l.amount),
            remaining: Set(l.remaining),
        }))
        .on_conflict(
            OnConflict::column(lot::Column::Id)
                .update_column(lot::Column::Remaining)
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}

/// Where a whole-ledger expiry run is: the (expire time, id) of the last due lot and of the
/// last due hold it read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DueCursor {
    pub lot: Option<(DateTime<Utc>, Uuid)>,
    pub hold: Option<(DateTime<Utc>, Uuid)>,
}

/// The next `limit` lots due for expiry at `now` after `after`, in (expire time, id) order:
/// (customer, expire time, id). Reads the range of the partial index of live lots
/// (`remaining > 0`, written as a literal so SQLite can match the index's condition); an
/// expired lot leaves that index, so the run reads its work and nothing else.
pub fn due_lots_select(
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> sea_orm::Select<lot::Entity> {
    use lot::Column as C;
    let live = lot::Entity::find().filter(Expr::cust("remaining > 0"));
    due_page(
        live,
        [C::CustomerId, C::ExpireTime, C::Id],
        now,
        after,
        limit,
    )
}

/// The next `limit` active holds past their timeout at `now` after `after`, in (expire time,
/// id) order: (customer, expire time, id).
pub fn due_holds_select(
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> sea_orm::Select<hold::Entity> {
    use hold::Column as C;
    let active = hold::Entity::find().filter(C::State.eq(HoldState::Active.as_str()));
    due_page(
        active,
        [C::CustomerId, C::ExpireTime, C::Id],
        now,
        after,
        limit,
    )
}

/// The next `limit` rows of `candidates` due at `now` after `after`, in (expire time, id)
/// order, reading (customer, expire time, id): the keyset page both expiry lists share.
fn due_page<E: EntityTrait>(
    candidates: sea_orm::Select<E>,
    [customer, expire_time, id]: [E::Column; 3],
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> sea_orm::Select<E> {
    let mut find = candidates
        .select_only()
        .columns([customer, expire_time, id])
        .filter(expire_time.lte(now));
    if let Some((t, after_id)) = after {
        find = find.filter(
            Expr::tuple([Expr::col(expire_time), Expr::col(id)])
                .gt(Expr::tuple([Expr::value(t), Expr::value(after_id)])),
        );
    }
    find.order_by_asc(expire_time).order_by_asc(id).limit(limit)
}

/// One keyset page of an expiry run: the customers (each once, in id order) of the next
/// `limit` due lots and the next `limit` due holds after `cursor`, which moves past them.
/// False with the customers when neither list has more.
pub async fn customers_due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    cursor: &mut DueCursor,
    limit: u64,
) -> Result<(Vec<CustomerId>, bool), Error> {
    type Due = (Uuid, DateTime<Utc>, Uuid);
    let lots: Vec<Due> = due_lots_select(now, cursor.lot, limit)
        .into_tuple()
        .all(conn)
        .await?;
    let holds: Vec<Due> = due_holds_select(now, cursor.hold, limit)
        .into_tuple()
        .all(conn)
        .await?;
    let full = |v: &Vec<Due>| v.len() as u64 >= limit;
    let more = full(&lots) || full(&holds);
    if let Some(&(_, t, id)) = lots.last() {
        cursor.lot = Some((t, id));
    }
    if let Some(&(_, t, id)) = holds.last() {
        cursor.hold = Some((t, id));
    }
    let mut ids: Vec<Uuid> = lots.iter().chain(&holds).map(|d| d.0).collect();
    ids.sort();
    ids.dedup();
    Ok((ids.into_iter().map(CustomerId).collect(), more))
}

/// Per customer of `customers`: points left in live lots, and points of active holds
/// (summed by the database, so a wallet with many lots is not loaded).
pub async fn totals(
    conn: &impl ConnectionTrait,
    customers: &[CustomerId],
) -> Result<HashMap<CustomerId, (i64, i64)>, Error> {
    let mut out: HashMap<CustomerId, (i64, i64)> = HashMap::new();
    let sum = |column: &str| Expr::cust(format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)"));
    for chunk in customers.chunks(super::ledger::ROWS_PER_STATEMENT) {
        let ids = || chunk.iter().map(|c| c.0);
        let lots: Vec<(Uuid, i64)> = lot::Entity::find()
            .select_only()
            .column(lot::Column::CustomerId)
            .column_as(sum("remaining"), "total")
            .filter(lot::Column::CustomerId.is_in(ids()))
            .filter(lot::Column::Remaining.gt(0))
            .group_by(lot::Column::CustomerId)
            .into_tuple()
            .all(conn)
            .await?;
        for (c, total) in lots {
            out.entry(CustomerId(c)).or_default().0 = total;
        }
        let holds: Vec<(Uuid, i64)> = hold::Entity::find()
            .select_only()
            .column(hold::Column::CustomerId)
            .column_as(sum("points"), "total")
            .filter(hold::Column::CustomerId.is_in(ids()))
            .filter(hold::Column::State.eq(HoldState::Active.as_str()))
            .group_by(hold::Column::CustomerId)
            .into_tuple()
            .all(conn)
            .await?;
        for (c, total) in holds {
            out.entry(CustomerId(c)).or_default().1 = total;
        }
    }
    Ok(out)
}

fn hold_from_row(r: hold::Model) -> Result<Hold, Error> {
    Ok(Hold {
        id: r.id,
        customer: CustomerId(r.customer_id),
        points: r.points,
        captured: r.captured,
        state: HoldState::from_db(&r.state)
            .ok_or_else(|| corrupt(format!("hold state {:?}", r.state)))?,
        order_id: r.order_id,
        lots: serde_json::from_value::<Vec<Consumption>>(r.lots)
            .map_err(|e| corrupt(format!("hold lots: {e}")))?,
        create_time: r.create_time,
        expire_time: r.expire_time,
    })
}

fn hold_to_row(h: &Hold) -> Result<hold::ActiveModel, Error> {
    Ok(hold::ActiveModel {
        id: Set(h.id),
        customer_id: Set(h.customer.0),
        points: Set(h.points),
        captured: Set(h.captured),
        state: Set(h.state.as_str().to_owned()),
        order_id: Set(h.order_id.clone()),
        lots: Set(serde_json::to_value(&h.lots).map_err(Error::internal)?),
        create_time: Set(h.create_time),
        expire_time: Set(h.expire_time),
    })
}

pub async fn find_hold(conn: &impl ConnectionTrait, id: Uuid) -> Result<Option<Hold>, Error> {
    hold::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(hold_from_row)
        .transpose()
}

pub async fn insert_hold(conn: &impl ConnectionTrait, h: &Hold) -> Result<(), Error> {
    hold::Entity::insert(hold_to_row(h)?)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub async fn save_hold(conn: &impl ConnectionTrait, h: &Hold) -> Result<(), Error> {
    let mut row = hold_to_row(h)?;
    row.id = Unchanged(h.id);
    hold::Entity::update(row).exec(conn).await?;
    Ok(())
}

pub async fn active_holds(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
) -> Result<Vec<Hold>, Error> {
    hold::Entity::find()
        .filter(hold::Column::CustomerId.eq(customer.0))
        .filter(hold::Column::State.eq(HoldState::Active.as_str()))
        .order_by_asc(hold::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(hold_from_row)
        .collect()
}

pub async fn find_order(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    order_id: &str,
) -> Result<Option<OrderState>, Error> {
    Ok(order::Entity::find_by_id((customer.0, order_id.to_owned()))
        .one(conn)
        .await?
        .map(order_from_row))
}

/// The customer's purchase orders (those with points before the tier multiplier) whose
/// purchase time is after `t`, by order id.
pub async fn purchases_after(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    t: DateTime<Utc>,
) -> Result<Vec<(String, OrderState)>, Error> {
    Ok(order::Entity::find()
        .filter(order::Column::CustomerId.eq(customer.0))
        .filter(order::Column::EarnTime.gt(t))
        .filter(order::Column::BasePoints.is_not_null())
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.order_id.clone(), order_from_row(r)))
        .collect())
}

fn order_from_row(r: order::Model) -> OrderState {
    OrderState {
        purchase_amount_minor: r.purchase_amount_minor,
        currency: r.currency,
        earned: r.earned,
        refunded_minor: r.refunded_minor,
        clawed_back: r.clawed_back,
        shortfall: r.shortfall,
        redeemed: r.redeemed,
        restored: r.restored,
        fully_reversed: r.fully_reversed,
        earn_time: r.earn_time,
        base_points: r.base_points,
    }
}

/// Inserts or replaces orders' states, in one statement.
pub async fn save_orders(
    conn: &impl ConnectionTrait,
    orders: &[((CustomerId, String), OrderState)],
) -> Result<(), Error> {
    use order::Column as C;
    for chunk in orders.chunks(super::ledger::ROWS_PER_STATEMENT) {
        order::Entity::insert_many(chunk.iter().map(|((customer, order_id), o)| {
            order::ActiveModel {
                customer_id: Set(customer.0),
                order_id: Set(order_id.clone()),
                purchase_amount_minor: Set(o.purchase_amount_minor),
                currency: Set(o.currency.clone()),
                earned: Set(o.earned),
                earn_time: Set(o.earn_time),
                refunded_minor: Set(o.refunded_minor),
                clawed_back: Set(o.clawed_back),
                shortfall: Set(o.shortfall),
                redeemed: Set(o.redeemed),
                restored: Set(o.restored),
                fully_reversed: Set(o.fully_reversed),
                base_points: Set(o.base_points),
            }
        }))
        .on_conflict(
            OnConflict::columns([C::CustomerId, C::OrderId])
                .update_columns([
                    C::PurchaseAmountMinor,
                    C::Currency,
                    C::Earned,
                    C::EarnTime,
                    C::RefundedMinor,
                    C::ClawedBack,
                    C::Shortfall,
                    C::Redeemed,
                    C::Restored,
                    C::FullyReversed,
                    C::BasePoints,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}
