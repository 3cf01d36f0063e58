//! Two-phase redemption: a hold moves points from the wallet to the held account; capture
//! spends them, release gives them back to the lots they came from.
use super::CustomerId;
use super::lots::Consumption;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldState {
    Active,
    Captured,
    Released,
    Expired,
}

impl HoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Captured => "captured",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }
    pub fn from_db(s: &str) -> Option<Self> {
        [Self::Active, Self::Captured, Self::Released, Self::Expired]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: Uuid,
    pub customer: CustomerId,
    pub points: i64,
    pub captured: i64,
    pub state: HoldState,
    pub order_id: String,
    /// Where the held points came from.
    pub lots: Vec<Consumption>,
    pub create_time: DateTime<Utc>,
    pub expire_time: DateTime<Utc>,
}

impl Hold {
    pub fn name(&self) -> String {
        super::hold_name(self.customer, self.id)
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.state == HoldState::Active && self.expire_time <= now
    }
}
