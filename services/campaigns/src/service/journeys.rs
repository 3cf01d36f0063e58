//! Care journeys (README "Journeys"): customers enter running journeys when their trigger
//! fires, once per occasion (a delivery row per occasion, unique), due after the trigger's
//! delay. Welcome, purchase and booking triggers fire in the customers consumer's
//! transaction; date (birthday, important dates) and win-back triggers are found by the
//! journey job. When the message is due, the recipient must still be in the journey's
//! segment (`condition_holds`). H3.
use super::CampaignService;
use crate::domain::CustomerId;
use crate::domain::campaign::{Campaign, GoalKind};
use crate::store::entities::delivery;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::jobs::Jobs;
use crm_platform::pii::Keys;
use sea_orm::DatabaseTransaction;

/// Starts the journey job (date and win-back triggers).
pub fn start(svc: &CampaignService, jobs: &mut Jobs) {
    let _ = (svc, jobs);
}

/// A customer was created: enters the running welcome journeys.
pub async fn on_customer_created(
    svc: &CampaignService,
    txn: &DatabaseTransaction,
    customer: CustomerId,
    created: DateTime<Utc>,
) -> Result<(), Error> {
    let _ = (svc, txn, customer, created);
    Ok(())
}

/// A purchase or booking: enters the running journeys of that trigger.
pub async fn on_activity(
    svc: &CampaignService,
    txn: &DatabaseTransaction,
    customer: CustomerId,
    activity: uuid::Uuid,
    kind: GoalKind,
    occur_time: DateTime<Utc>,
) -> Result<(), Error> {
    let _ = (svc, txn, customer, activity, kind, occur_time);
    Ok(())
}

/// Whether a journey's due recipient still matches its segment (minus exclusions); true for
/// a one-off campaign, whose audience was chosen at its start.
pub async fn condition_holds(
    svc: &CampaignService,
    txn: &DatabaseTransaction,
    c: &Campaign,
    row: &delivery::Model,
    keys: &Keys,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let _ = (svc, txn, c, row, keys, now);
    Ok(true)
}
