//! The writes of the event handlers. Each one is idempotent and tolerates events arriving out
//! of order: rows keyed by the fact's id are inserted once, decisions carrying a time only
//! replace older ones, aggregates are recomputed from the rows rather than incremented.
use crate::domain::CustomerId;
use crate::domain::member::{MemberState, OrderFact, TicketFact};
use crate::store::entities::{
    conversion, delivery, member, member_attribute, member_consent, member_date, member_order,
    member_order_item, member_tag, member_ticket,
};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
};
use uuid::Uuid;

/// Longest chain of merges followed to the final survivor (a cycle cannot happen, a bound
/// keeps a corrupt row from looping).
const MAX_MERGE_HOPS: usize = 16;

/// A fresh member: active, everything to refresh.
fn fresh(id: Uuid, now: DateTime<Utc>) -> member::ActiveModel {
    member::ActiveModel {
        id: Set(id),
        state: Set(MemberState::Active.code().to_owned()),
        merged_into: Set(None),
        profile: Set(None),
        pii_key: Set(None),
        language_code: Set(String::new()),
        time_zone: Set(String::new()),
        lifecycle_stage: Set(0),
        birth_month: Set(None),
        birth_day: Set(None),
        tier: Set(String::new()),
        available_points: Set(0),
        order_count: Set(0),
        last_purchase_time: Set(None),
        rfm_segment: Set(String::new()),
        profile_stale: Set(true),
        loyalty_stale: Set(true),
        refresh_after: Set(None),
        segments_dirty: Set(true),
        update_time: Set(now),
    }
}

/// Inserts the members of `ids` that are not in the read model yet (active, to refresh);
/// returns how many were new.
pub async fn ensure(
    conn: &impl ConnectionTrait,
    ids: &[CustomerId],
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    let inserted = member::Entity::insert_many(ids.iter().map(|id| fresh(id.0, now)))
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    Ok(match inserted {
        TryInsertResult::Inserted(n) => n,
        _ => 0,
    })
}

/// Sets `cols` on the members `ids` (those matching `filter` too), marking them changed.
/// Returns the rows changed.
async fn change(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
    cols: Vec<(member::Column, SimpleExpr)>,
    filter: Option<sea_orm::Condition>,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut u = member::Entity::update_many()
        .col_expr(member::Column::SegmentsDirty, Expr::value(true))
        .col_expr(member::Column::UpdateTime, Expr::value(now));
    for (c, e) in cols {
        u = u.col_expr(c, e);
    }
    u = u.filter(member::Column::Id.is_in(ids.iter().copied()));
    if let Some(f) = filter {
        u = u.filter(f);
    }
    Ok(u.exec(conn).await?.rows_affected)
}

/// The profile (and with it the traits) and/or balance and tier must be asked again, now.
fn stale(profile: bool, loyalty: bool) -> Vec<(member::Column, SimpleExpr)> {
    let mut cols = vec![(
        member::Column::RefreshAfter,
        Expr::value(Option::<DateTime<Utc>>::None),
    )];
    if profile {
        cols.push((member::Column::ProfileStale, Expr::value(true)));
    }
    if loyalty {
        cols.push((member::Column::LoyaltyStale, Expr::value(true)));
    }
    cols
}

/// The customer the facts of `id` now belong to: `id`, or the survivor it was merged into
/// (following later merges of the survivor too).
pub async fn final_survivor(
    conn: &impl ConnectionTrait,
    id: CustomerId,
) -> Result<CustomerId, Error> {
    let mut at = id;
    for _ in 0..MAX_MERGE_HOPS {
        let next: Option<Option<Uuid>> = member::Entity::find_by_id(at.0)
            .select_only()
            .column(member::Column::MergedInto)
            .filter(member::Column::State.eq(MemberState::Merged.code()))
            .into_tuple()
            .one(conn)
            .await?;
        match next.flatten() {
            Some(n) if n != at.0 => at = CustomerId(n),
            _ => return Ok(at),
        }
    }
    Ok(at)
}

/// CustomerCreated / CustomerUpdated: the member exists (an undeleted one is active again),
/// its stage is `lifecycle_stage`, and its profile is to be asked.
pub async fn customer_changed(
    conn: &impl ConnectionTrait,
    id: CustomerId,
    lifecycle_stage: i32,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    ensure(conn, &[id], now).await?;
    let mut cols = stale(true, false);
    cols.push((member::Column::LifecycleStage, Expr::value(lifecycle_stage)));
    change(conn, &[id.0], cols, None, now).await?;
    // An update of a deleted customer is its undelete; a merged one stays merged.
    change(
        conn,
        &[id.0],
        vec![(
            member::Column::State,
            Expr::value(MemberState::Active.code()),
        )],
        Some(sea_orm::Condition::all().add(member::Column::State.eq(MemberState::Deleted.code()))),
        now,
    )
    .await?;
    Ok(())
}

/// CustomerDeleted: the member is deleted (kept, so an undelete finds its history).
pub async fn customer_deleted(
    conn: &impl ConnectionTrait,
    id: CustomerId,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    ensure(conn, &[id], now).await?;
    change(
        conn,
        &[id.0],
        vec![(
            member::Column::State,
            Expr::value(MemberState::Deleted.code()),
        )],
        Some(sea_orm::Condition::all().add(member::Column::State.eq(MemberState::Active.code()))),
        now,
    )
    .await?;
    Ok(())
}

/// CustomerMerged: each loser is merged into `survivor` (or the customer it was merged into
/// since), its orders and tickets move there, and the survivor is refreshed (customers and
/// loyalty moved their data too). Returns the rows re-pointed.
pub async fn customers_merged(
    conn: &impl ConnectionTrait,
    survivor: CustomerId,
    losers: &[CustomerId],
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let survivor = final_survivor(conn, survivor).await?;
    let losers: Vec<Uuid> = losers
        .iter()
        .filter(|l| **l != survivor)
        .map(|l| l.0)
        .collect();
    let mut all: Vec<CustomerId> = losers.iter().copied().map(CustomerId).collect();
    all.push(survivor);
    ensure(conn, &all, now).await?;
    change(
        conn,
        &losers,
        vec![
            (
                member::Column::State,
                Expr::value(MemberState::Merged.code()),
            ),
            (member::Column::MergedInto, Expr::value(survivor.0)),
        ],
        None,
        now,
    )
    .await?;
    // Members merged into a loser earlier follow it to the survivor.
    member::Entity::update_many()
        .col_expr(member::Column::MergedInto, Expr::value(survivor.0))
        .col_expr(member::Column::UpdateTime, Expr::value(now))
        .filter(member::Column::MergedInto.is_in(losers.iter().copied()))
        .exec(conn)
        .await?;
    let mut moved = 0;
    if !losers.is_empty() {
        moved += member_order::Entity::update_many()
            .col_expr(member_order::Column::CustomerId, Expr::value(survivor.0))
            .filter(member_order::Column::CustomerId.is_in(losers.iter().copied()))
            .exec(conn)
            .await?
            .rows_affected;
        moved += member_order_item::Entity::update_many()
            .col_expr(
                member_order_item::Column::CustomerId,
                Expr::value(survivor.0),
            )
            .filter(member_order_item::Column::CustomerId.is_in(losers.iter().copied()))
            .exec(conn)
            .await?
            .rows_affected;
        moved += member_ticket::Entity::update_many()
            .col_expr(member_ticket::Column::CustomerId, Expr::value(survivor.0))
            .filter(member_ticket::Column::CustomerId.is_in(losers.iter().copied()))
            .exec(conn)
            .await?
            .rows_affected;
        let losers: Vec<CustomerId> = losers.iter().copied().map(CustomerId).collect();
        moved += crate::store::coupons::move_claims(conn, &losers, survivor).await?;
    }
    for &l in &losers {
        recompute_orders(conn, CustomerId(l), now).await?;
    }
    recompute_orders(conn, survivor, now).await?;
    let cols = stale(true, true);
    change(conn, &[survivor.0], cols, None, now).await?;
    Ok(moved)
}

/// CustomerErased: every row of `whose` (the erased customer and those merged into it) is
/// deleted (their attributed conversions too), the queued messages to them dropped and their segment memberships removed.
/// Returns the records removed or scrubbed (0 when campaigns held nothing).
pub async fn erase(conn: &impl ConnectionTrait, whose: &[CustomerId]) -> Result<u64, Error> {
    let ids: Vec<Uuid> = whose.iter().map(|c| c.0).collect();
    let mut n = 0;
    macro_rules! delete {
        ($entity:path, $col:expr) => {{
            use $entity as e;
            n += e::Entity::delete_many()
                .filter($col.is_in(ids.iter().copied()))
                .exec(conn)
                .await?
                .rows_affected;
        }};
    }
    delete!(member_tag, member_tag::Column::CustomerId);
    delete!(member_attribute, member_attribute::Column::CustomerId);
    delete!(member_date, member_date::Column::CustomerId);
    delete!(member_consent, member_consent::Column::CustomerId);
    delete!(member_order_item, member_order_item::Column::CustomerId);
    delete!(member_order, member_order::Column::CustomerId);
    // Attributed purchases are purchase history too (the report counts the delivery on).
    delete!(conversion, conversion::Column::CustomerId);
    delete!(member_ticket, member_ticket::Column::CustomerId);
    delete!(member, member::Column::Id);
    // Memberships go with their counts (the tracked count must not include them); after the
    // member rows, so a membership job that entered one of them before is seen here.
    n += crate::store::segments::forget(conn, &ids).await?;
    n += delivery::Entity::update_many()
        .col_expr(
            delivery::Column::Message,
            Expr::value(Option::<Vec<u8>>::None),
        )
        .col_expr(
            delivery::Column::PiiKey,
            Expr::value(Option::<String>::None),
        )
        .filter(delivery::Column::CustomerId.is_in(ids.iter().copied()))
        .filter(delivery::Column::Message.is_not_null())
        .exec(conn)
        .await?
        .rows_affected;
    n += crate::store::coupons::forget_customers(conn, whose).await?;
    Ok(n)
}

/// ActivityRecorded (a purchase) / RefundRecorded: the order row (once per activity) and its
/// items, then the member's order count and last purchase from its rows. Returns whether
/// the order was new.
pub async fn record_order(
    conn: &impl ConnectionTrait,
    order: &OrderFact,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let owner = final_survivor(conn, order.customer).await?;
    ensure(conn, &[owner], now).await?;
    let row = member_order::ActiveModel {
        activity_id: Set(order.activity),
        customer_id: Set(owner.0),
        occur_time: Set(order.occur_time),
        currency_code: Set(order.currency_code.clone()),
        amount_minor: Set(order.amount_minor),
    };
    let inserted = member_order::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    if !matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(false);
    }
    // One row per item id (an order naming an item twice adds the quantities).
    let mut items: Vec<(String, i32)> = Vec::new();
    for (item, q) in &order.items {
        match items.iter_mut().find(|(i, _)| i == item) {
            Some((_, total)) => *total = total.saturating_add(*q),
            None => items.push((item.clone(), *q)),
        }
    }
    if !items.is_empty() {
        member_order_item::Entity::insert_many(items.into_iter().map(|(item, q)| {
            member_order_item::ActiveModel {
                activity_id: Set(order.activity),
                item_id: Set(item),
                customer_id: Set(owner.0),
                occur_time: Set(order.occur_time),
                quantity: Set(q),
            }
        }))
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    }
    recompute_orders(conn, owner, now).await?;
    Ok(true)
}

/// order_count and last_purchase_time of `id` from its purchase rows (refunds are no orders).
async fn recompute_orders(
    conn: &impl ConnectionTrait,
    id: CustomerId,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    use member_order::Column as C;
    let purchases = || {
        member_order::Entity::find()
            .filter(C::CustomerId.eq(id.0))
            .filter(C::AmountMinor.gt(0))
    };
    let count = i64::try_from(purchases().count(conn).await?).unwrap_or(i64::MAX);
    let last: Option<DateTime<Utc>> = purchases()
        .select_only()
        .column(C::OccurTime)
        .order_by_desc(C::OccurTime)
        .limit(1)
        .into_tuple()
        .one(conn)
        .await?;
    change(
        conn,
        &[id.0],
        vec![
            (member::Column::OrderCount, Expr::value(count)),
            (member::Column::LastPurchaseTime, Expr::value(last)),
        ],
        None,
        now,
    )
    .await?;
    Ok(())
}

/// ConsentChanged: the decision on `channel` unless a later one is recorded already.
/// Returns whether it was applied.
pub async fn set_consent(
    conn: &impl ConnectionTrait,
    id: CustomerId,
    channel: i32,
    granted: bool,
    time: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    ensure(conn, &[id], now).await?;
    let applied = upsert_consent(conn, id, channel, granted, time).await?;
    if applied {
        change(conn, &[id.0], Vec::new(), None, now).await?;
    }
    Ok(applied)
}

/// Inserts the decision, or replaces one taken earlier (or at the same time: the one seen
/// last wins a tie). True when the row now holds it.
pub(super) async fn upsert_consent(
    conn: &impl ConnectionTrait,
    id: CustomerId,
    channel: i32,
    granted: bool,
    time: DateTime<Utc>,
) -> Result<bool, Error> {
    use member_consent::Column as C;
    let row = member_consent::ActiveModel {
        customer_id: Set(id.0),
        channel: Set(channel),
        granted: Set(granted),
        update_time: Set(time),
    };
    let inserted = member_consent::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(true);
    }
    let updated = member_consent::Entity::update_many()
        .col_expr(C::Granted, Expr::value(granted))
        .col_expr(C::UpdateTime, Expr::value(time))
        .filter(C::CustomerId.eq(id.0))
        .filter(C::Channel.eq(channel))
        .filter(C::UpdateTime.lte(time))
        .exec(conn)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// TierChanged: the new tier now (the refresh confirms it with the balance).
pub async fn set_tier(
    conn: &impl ConnectionTrait,
    id: CustomerId,
    tier: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    ensure(conn, &[id], now).await?;
    let mut cols = stale(false, true);
    cols.push((member::Column::Tier, Expr::value(tier)));
    change(conn, &[id.0], cols, None, now).await?;
    Ok(())
}

/// Points events: balance (and tier) to ask again.
pub async fn points_changed(
    conn: &impl ConnectionTrait,
    id: CustomerId,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    ensure(conn, &[id], now).await?;
    change(conn, &[id.0], stale(false, true), None, now).await?;
    Ok(())
}

/// TicketCreated / TicketStatusChanged / TicketSolved: the ticket's open flag as of `time`
/// unless a later one is recorded; its category when the event carries it.
pub async fn set_ticket(
    conn: &impl ConnectionTrait,
    t: &TicketFact,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    use member_ticket::Column as C;
    let owner = final_survivor(conn, t.customer).await?;
    ensure(conn, &[owner], now).await?;
    let row = member_ticket::ActiveModel {
        ticket_id: Set(t.ticket),
        customer_id: Set(owner.0),
        category: Set(t.category.unwrap_or(0)),
        open: Set(t.open),
        update_time: Set(t.time),
    };
    let inserted = member_ticket::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    if !matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        member_ticket::Entity::update_many()
            .col_expr(C::Open, Expr::value(t.open))
            .col_expr(C::UpdateTime, Expr::value(t.time))
            .filter(C::TicketId.eq(t.ticket))
            .filter(C::UpdateTime.lte(t.time))
            .exec(conn)
            .await?;
        if let Some(category) = t.category {
            member_ticket::Entity::update_many()
                .col_expr(C::Category, Expr::value(category))
                .filter(C::TicketId.eq(t.ticket))
                .exec(conn)
                .await?;
        }
    }
    change(conn, &[owner.0], Vec::new(), None, now).await?;
    Ok(())
}

/// RebuildReadModel: `ids` (a page of customers' listing) are in the read model and are all
/// refreshed. Returns how many were marked.
pub async fn mark_stale(
    conn: &impl ConnectionTrait,
    ids: &[CustomerId],
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    ensure(conn, ids, now).await?;
    let cols = stale(true, true);
    let raw: Vec<Uuid> = ids.iter().map(|c| c.0).collect();
    change(conn, &raw, cols, None, now).await
}
