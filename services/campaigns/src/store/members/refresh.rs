//! The refresh job's reads and writes: the stale members to ask about, and what customers
//! and loyalty answered. A member an event changed while its refresh was in flight (its
//! `update_time` moved) keeps its stale flag, so the next run asks again.
use super::events::upsert_consent;
use super::{attribute_key_hash, attribute_value_hash, profile_aad};
use crate::domain::CustomerId;
use crate::domain::member::{LoyaltyFacts, MemberState, Snapshot, SnapshotState};
use crate::store::entities::{member, member_attribute, member_date, member_tag};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

/// A member due for a refresh, as read: what is stale, and its `update_time` then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub id: CustomerId,
    pub profile_stale: bool,
    pub loyalty_stale: bool,
    pub read_time: DateTime<Utc>,
}

/// Up to `limit` active members with a stale profile (when `profile`) or stale loyalty
/// (when `loyalty`) whose retry time has come, in id order after `after`.
pub async fn due(
    conn: &impl ConnectionTrait,
    profile: bool,
    loyalty: bool,
    now: DateTime<Utc>,
    after: Option<CustomerId>,
    limit: u64,
) -> Result<Vec<Due>, Error> {
    use member::Column as C;
    let mut stale = Condition::any();
    if profile {
        stale = stale.add(C::ProfileStale.eq(true));
    }
    if loyalty {
        stale = stale.add(C::LoyaltyStale.eq(true));
    }
    if !profile && !loyalty {
        return Ok(Vec::new());
    }
    let mut q = member::Entity::find()
        .select_only()
        .columns([C::Id, C::ProfileStale, C::LoyaltyStale, C::UpdateTime])
        .filter(stale)
        .filter(C::State.eq(MemberState::Active.code()))
        .filter(
            Condition::any()
                .add(C::RefreshAfter.is_null())
                .add(C::RefreshAfter.lte(now)),
        );
    if let Some(a) = after {
        q = q.filter(C::Id.gt(a.0));
    }
    let rows: Vec<(uuid::Uuid, bool, bool, DateTime<Utc>)> = q
        .order_by_asc(C::Id)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, p, l, t)| Due {
            id: CustomerId(id),
            profile_stale: p && profile,
            loyalty_stale: l && loyalty,
            read_time: t,
        })
        .collect())
}

/// Clears the stale flags the refresh answered (`profile`, `loyalty`) unless the member
/// changed since `read_time` (an event came in meanwhile: it is asked again next run).
/// Called before the answers are written; returns whether the flags were cleared.
pub async fn settle(
    conn: &impl ConnectionTrait,
    due: &Due,
    profile: bool,
    loyalty: bool,
) -> Result<bool, Error> {
    use member::Column as C;
    if !profile && !loyalty {
        return Ok(false);
    }
    let mut u = member::Entity::update_many();
    if profile {
        u = u.col_expr(C::ProfileStale, Expr::value(false));
    }
    if loyalty {
        u = u.col_expr(C::LoyaltyStale, Expr::value(false));
    }
    let n = u
        .filter(C::Id.eq(due.id.0))
        .filter(C::UpdateTime.eq(due.read_time))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(n > 0)
}

/// Writes what customers said of `id`: the sealed profile, the plain traits, tags,
/// attributes (blind index), important dates and consents; its state when customers report
/// it deleted or merged ([`settle`] first).
pub async fn write_snapshot(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    id: CustomerId,
    s: &Snapshot,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    use member::Column as C;
    let json = serde_json::to_vec(&s.profile).map_err(Error::internal)?;
    let sealed = keys.seal(profile_aad(id.0).as_bytes(), &json)?;
    let (month, day) = match s.birthday {
        Some((m, d)) => (Some(m), Some(d)),
        None => (None, None),
    };
    let mut cols: Vec<(member::Column, SimpleExpr)> = vec![
        (C::Profile, Expr::value(Some(sealed.bytes))),
        (C::PiiKey, Expr::value(sealed.key)),
        (C::LanguageCode, Expr::value(s.language_code.clone())),
        (C::TimeZone, Expr::value(s.time_zone.clone())),
        (C::LifecycleStage, Expr::value(s.lifecycle_stage)),
        (C::BirthMonth, Expr::value(month)),
        (C::BirthDay, Expr::value(day)),
        (C::RefreshAfter, Expr::value(Option::<DateTime<Utc>>::None)),
        (C::SegmentsDirty, Expr::value(true)),
        (C::UpdateTime, Expr::value(now)),
    ];
    if let Some(rfm) = &s.rfm_segment {
        cols.push((C::RfmSegment, Expr::value(rfm.clone())));
    }
    match s.state {
        SnapshotState::Active => {}
        SnapshotState::Deleted => {
            cols.push((C::State, Expr::value(MemberState::Deleted.code())));
        }
        SnapshotState::Merged(into) => {
            cols.push((C::State, Expr::value(MemberState::Merged.code())));
            cols.push((C::MergedInto, Expr::value(into.0)));
        }
        // The caller drops an erased member instead.
        SnapshotState::Erased => {}
    }
    let mut u = member::Entity::update_many();
    for (c, e) in cols {
        u = u.col_expr(c, e);
    }
    u.filter(C::Id.eq(id.0)).exec(conn).await?;
    replace_traits(conn, keys, id, s).await?;
    for c in &s.consents {
        upsert_consent(conn, id, c.channel, c.granted, c.time).await?;
    }
    Ok(())
}

/// Tags, attributes and dates as the snapshot has them (what it no longer has goes).
async fn replace_traits(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    id: CustomerId,
    s: &Snapshot,
) -> Result<(), Error> {
    member_tag::Entity::delete_many()
        .filter(member_tag::Column::CustomerId.eq(id.0))
        .exec(conn)
        .await?;
    let mut tags = s.tags.clone();
    tags.sort();
    tags.dedup();
    if !tags.is_empty() {
        member_tag::Entity::insert_many(tags.into_iter().map(|tag| member_tag::ActiveModel {
            customer_id: Set(id.0),
            tag: Set(tag),
        }))
        .exec_without_returning(conn)
        .await?;
    }
    member_attribute::Entity::delete_many()
        .filter(member_attribute::Column::CustomerId.eq(id.0))
        .exec(conn)
        .await?;
    let mut attrs: Vec<(String, String)> = s
        .attributes
        .iter()
        .map(|(k, v)| {
            (
                attribute_key_hash(keys, k),
                attribute_value_hash(keys, k, v),
            )
        })
        .collect();
    attrs.sort();
    attrs.dedup_by(|a, b| a.0 == b.0);
    if !attrs.is_empty() {
        member_attribute::Entity::insert_many(attrs.into_iter().map(|(k, v)| {
            member_attribute::ActiveModel {
                customer_id: Set(id.0),
                key_hash: Set(k),
                value_hash: Set(v),
            }
        }))
        .exec_without_returning(conn)
        .await?;
    }
    member_date::Entity::delete_many()
        .filter(member_date::Column::CustomerId.eq(id.0))
        .exec(conn)
        .await?;
    let mut dates = s.dates.clone();
    dates.sort();
    dates.dedup_by(|a, b| a.0 == b.0);
    if !dates.is_empty() {
        member_date::Entity::insert_many(dates.into_iter().map(|(kind, month, day)| {
            member_date::ActiveModel {
                customer_id: Set(id.0),
                kind: Set(kind),
                month: Set(month),
                day: Set(day),
            }
        }))
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}

/// Writes what loyalty said of `id` ([`settle`] first).
pub async fn write_loyalty(
    conn: &impl ConnectionTrait,
    id: CustomerId,
    l: &LoyaltyFacts,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    use member::Column as C;
    member::Entity::update_many()
        .col_expr(C::Tier, Expr::value(l.tier.clone()))
        .col_expr(C::AvailablePoints, Expr::value(l.available_points))
        .col_expr(C::SegmentsDirty, Expr::value(true))
        .col_expr(C::UpdateTime, Expr::value(now))
        .filter(C::Id.eq(id.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Members whose refresh failed are asked again at `at` (nothing a segment tests changed).
pub async fn retry_at(
    conn: &impl ConnectionTrait,
    ids: &[CustomerId],
    at: DateTime<Utc>,
) -> Result<u64, Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(member::Entity::update_many()
        .col_expr(member::Column::RefreshAfter, Expr::value(Some(at)))
        .filter(member::Column::Id.is_in(ids.iter().map(|c| c.0)))
        .exec(conn)
        .await?
        .rows_affected)
}
