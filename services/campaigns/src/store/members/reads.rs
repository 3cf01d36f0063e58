//! What segments, sending and GetMember read of a member.
use super::profile_aad;
use crate::domain::CustomerId;
use crate::domain::member::{Member, MemberState, Profile};
use crate::store::entities::{member, member_consent, member_tag, member_ticket};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use uuid::Uuid;

use crate::domain::segment::COMPLAINT_CATEGORY as COMPLAINT;

/// The member's plain facts: traits, loyalty, behaviour, tags, consented channels and open
/// complaints. None when the read model does not know the customer (or it was erased).
pub async fn find(conn: &impl ConnectionTrait, id: CustomerId) -> Result<Option<Member>, Error> {
    Ok(find_many(conn, &[id.0]).await?.pop())
}

/// The plain facts of members `ids` that are in the read model, in the order of `ids` (five
/// queries, whatever the number).
pub async fn find_many(conn: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<Member>, Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = member::Entity::find()
        .filter(member::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    let mut tags: HashMap<Uuid, Vec<String>> = HashMap::new();
    for t in member_tag::Entity::find()
        .filter(member_tag::Column::CustomerId.is_in(ids.iter().copied()))
        .order_by_asc(member_tag::Column::Tag)
        .all(conn)
        .await?
    {
        tags.entry(t.customer_id).or_default().push(t.tag);
    }
    let mut channels: HashMap<Uuid, Vec<i32>> = HashMap::new();
    for c in member_consent::Entity::find()
        .filter(member_consent::Column::CustomerId.is_in(ids.iter().copied()))
        .filter(member_consent::Column::Granted.eq(true))
        .order_by_asc(member_consent::Column::Channel)
        .all(conn)
        .await?
    {
        channels.entry(c.customer_id).or_default().push(c.channel);
    }
    let mut complaints: HashMap<Uuid, i64> = HashMap::new();
    for t in member_ticket::Entity::find()
        .filter(member_ticket::Column::CustomerId.is_in(ids.iter().copied()))
        .filter(member_ticket::Column::Category.eq(COMPLAINT))
        .filter(member_ticket::Column::Open.eq(true))
        .all(conn)
        .await?
    {
        *complaints.entry(t.customer_id).or_default() += 1;
    }
    let mut by_id: HashMap<Uuid, member::Model> = rows.into_iter().map(|r| (r.id, r)).collect();
    ids.iter()
        .filter_map(|id| by_id.remove(id))
        .map(|r| {
            let state = MemberState::from_code(&r.state).ok_or_else(|| {
                Error::internal(anyhow::anyhow!(
                    "unknown state {:?} in members.{}",
                    r.state,
                    r.id
                ))
            })?;
            Ok(Member {
                customer: CustomerId(r.id),
                state,
                tags: tags.remove(&r.id).unwrap_or_default(),
                consented_channels: channels.remove(&r.id).unwrap_or_default(),
                open_complaints: complaints.get(&r.id).copied().unwrap_or(0),
                language_code: r.language_code,
                time_zone: r.time_zone,
                lifecycle_stage: r.lifecycle_stage,
                tier: r.tier,
                available_points: r.available_points,
                order_count: r.order_count,
                last_purchase_time: r.last_purchase_time,
                rfm_segment: r.rfm_segment,
                update_time: r.update_time,
            })
        })
        .collect()
}

/// The member's sealed profile, opened; None when it has not been refreshed yet (or the
/// customer is unknown).
pub async fn profile(
    conn: &impl ConnectionTrait,
    keys: &Keys,
    id: CustomerId,
) -> Result<Option<Profile>, Error> {
    let row: Option<(Option<Vec<u8>>, Option<String>)> = member::Entity::find_by_id(id.0)
        .select_only()
        .column(member::Column::Profile)
        .column(member::Column::PiiKey)
        .into_tuple()
        .one(conn)
        .await?;
    let Some((Some(sealed), key)) = row else {
        return Ok(None);
    };
    let plain = keys.unseal(key.as_deref(), profile_aad(id.0).as_bytes(), &sealed)?;
    serde_json::from_slice(&plain).map(Some).map_err(|e| {
        // Position only: the message could quote the data.
        Error::internal(anyhow::anyhow!(
            "members.{} profile does not parse at line {} column {}",
            id.0,
            e.line(),
            e.column()
        ))
    })
}

/// Whether the customer granted consent on `customers_channel` (crm.customers.v1.Channel
/// number); false without a decision.
pub async fn consent_granted(
    conn: &impl ConnectionTrait,
    id: CustomerId,
    customers_channel: i32,
) -> Result<bool, Error> {
    let granted: Option<bool> = member_consent::Entity::find()
        .select_only()
        .column(member_consent::Column::Granted)
        .filter(member_consent::Column::CustomerId.eq(id.0))
        .filter(member_consent::Column::Channel.eq(customers_channel))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(granted.unwrap_or(false))
}

/// The customer's open complaint tickets.
pub async fn open_complaints(conn: &impl ConnectionTrait, id: CustomerId) -> Result<i64, Error> {
    let n = member_ticket::Entity::find()
        .filter(member_ticket::Column::CustomerId.eq(id.0))
        .filter(member_ticket::Column::Category.eq(COMPLAINT))
        .filter(member_ticket::Column::Open.eq(true))
        .count(conn)
        .await?;
    Ok(i64::try_from(n).unwrap_or(i64::MAX))
}
