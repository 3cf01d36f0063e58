//! The `conversions` table: purchases and bookings attributed to the deliveries whose
//! attribution window held them (README "Campaign reports"), written by the customers
//! consumer in the event's transaction, and the report's aggregates over them. H2.
use crate::domain::CampaignId;
use crate::domain::campaign::GoalKind;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

/// A purchase or booking as the customers stream reports it.
#[derive(Debug, Clone)]
pub struct Activity {
    pub activity: Uuid,
    pub customer: Uuid,
    pub kind: GoalKind,
    pub occur_time: DateTime<Utc>,
    pub currency_code: String,
    pub amount_minor: i64,
}

/// Attributes `a` to every delivery of its customer whose campaign's goal is `a.kind` and
/// whose window holds it (once per delivery and activity); returns the conversions written.
pub async fn record(conn: &impl ConnectionTrait, a: &Activity) -> Result<u64, Error> {
    let _ = (conn, a);
    Ok(0)
}

/// Per variant of `campaign` ("" for the holdout): recipients with at least one conversion.
pub async fn converted_by_variant(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
) -> Result<Vec<(String, u64)>, Error> {
    let _ = (conn, campaign);
    Ok(Vec::new())
}
