//! STUB on main until H3's store lands.
use crate::domain::CustomerId;
use crate::domain::member::{Member, Profile};
use crm_platform::Error;
use crm_platform::pii::Keys;
use sea_orm::ConnectionTrait;

pub async fn find(_conn: &impl ConnectionTrait, _id: CustomerId) -> Result<Option<Member>, Error> {
    Ok(None)
}

pub async fn profile(
    _conn: &impl ConnectionTrait,
    _keys: &Keys,
    _id: CustomerId,
) -> Result<Option<Profile>, Error> {
    Ok(None)
}
