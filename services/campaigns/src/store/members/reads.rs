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

/// crm.tickets.v1.Category::Complaint.
pub const COMPLAINT: i32 = crm_proto::tickets::Category::Complaint as i32;

/// The member's plain facts: traits, loyalty, behaviour, tags, consented channels and open
/// complaints. None when the read model does not know the customer (or it was erased).
pub async fn find(conn: &impl ConnectionTrait, id: CustomerId) -> Result<Option<Member>, Error> {
    let Some(row) = member::Entity::find_by_id(id.0).one(conn).await? else {
        return Ok(None);
    };
    let state = MemberState::from_code(&row.state).ok_or_else(|| {
        Error::internal(anyhow::anyhow!(
            "unknown state {:?} in members.{}",
            row.state,
            row.id
        ))
    })?;
    let tags: Vec<String> = member_tag::Entity::find()
        .select_only()
        .column(member_tag::Column::Tag)
        .filter(member_tag::Column::CustomerId.eq(id.0))
        .order_by_asc(member_tag::Column::Tag)
        .into_tuple()
        .all(conn)
        .await?;
    let consented_channels: Vec<i32> = member_consent::Entity::find()
        .select_only()
        .column(member_consent::Column::Channel)
        .filter(member_consent::Column::CustomerId.eq(id.0))
        .filter(member_consent::Column::Granted.eq(true))
        .order_by_asc(member_consent::Column::Channel)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(Some(Member {
        customer: id,
        state,
        language_code: row.language_code,
        time_zone: row.time_zone,
        tags,
        lifecycle_stage: row.lifecycle_stage,
        tier: row.tier,
        available_points: row.available_points,
        order_count: row.order_count,
        last_purchase_time: row.last_purchase_time,
        rfm_segment: row.rfm_segment,
        open_complaints: open_complaints(conn, id).await?,
        consented_channels,
        update_time: row.update_time,
    }))
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
