//! STUB on main until H1's store lands.
use crate::domain::SegmentId;
use crate::domain::segment::{Rule, Segment};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

pub async fn find(_conn: &impl ConnectionTrait, _id: SegmentId) -> Result<Option<Segment>, Error> {
    Ok(None)
}

pub async fn member_page(
    _conn: &impl ConnectionTrait,
    _rule: &Rule,
    _keys: &Keys,
    _now: DateTime<Utc>,
    _after: Option<Uuid>,
    _limit: u64,
) -> Result<Vec<Uuid>, Error> {
    Ok(vec![])
}

pub async fn contains(
    _conn: &impl ConnectionTrait,
    _rule: &Rule,
    _keys: &Keys,
    _now: DateTime<Utc>,
    _customer: Uuid,
) -> Result<bool, Error> {
    Ok(false)
}
