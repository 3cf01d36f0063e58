//! The `conversions` table: purchases and bookings attributed to the deliveries whose
//! attribution window held them (README "Campaign reports"), written by the customers
//! consumer in the event's transaction, so the report aggregates these rows and never scans
//! orders.
use super::entities::{campaign, conversion, delivery};
use crate::domain::CampaignId;
use crate::domain::campaign::{DeliveryState, GoalKind, Spec};
use crate::domain::report::{
    MAX_WINDOW_DAYS, arm_of, attribution_start, day_of, in_window, is_started, starts_at_send,
};
use chrono::{DateTime, Duration, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TryInsertResult,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Deliveries of one customer looked at per activity, the most recent first: a customer
/// reached by more campaigns in 90 days is an outlier, and its oldest are dropped.
pub const MAX_CANDIDATES: u64 = 200;

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

/// A delivery that might hold an activity.
struct Candidate {
    id: Uuid,
    campaign: Uuid,
    /// Its arm: the variant, "" for the holdout.
    variant: String,
    start: DateTime<Utc>,
}

fn codes(keep: impl Fn(DeliveryState) -> bool) -> Vec<&'static str> {
    DeliveryState::ALL
        .into_iter()
        .filter(|s| keep(*s))
        .map(DeliveryState::code)
        .collect()
}

/// id, campaign, variant, state, send time, due time.
type CandidateRow = (
    Uuid,
    Uuid,
    String,
    String,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
);

/// The customer's started deliveries whose window opened in the 90 days up to `occur`
/// (index `deliveries_caps`, which leads with customer_id), in an arm.
async fn candidates(
    conn: &impl ConnectionTrait,
    customer: Uuid,
    occur: DateTime<Utc>,
) -> Result<Vec<Candidate>, Error> {
    use delivery::Column as D;
    let since = occur - Duration::days(MAX_WINDOW_DAYS);
    let at_send = codes(starts_at_send);
    let at_due = codes(|s| is_started(s) && !starts_at_send(s));
    let rows: Vec<CandidateRow> = delivery::Entity::find()
        .select_only()
        .columns([
            D::Id,
            D::CampaignId,
            D::Variant,
            D::State,
            D::SendTime,
            D::DueTime,
        ])
        .filter(D::CustomerId.eq(customer))
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(D::State.is_in(at_send))
                        .add(D::SendTime.between(since, occur)),
                )
                .add(
                    Condition::all()
                        .add(D::State.is_in(at_due))
                        .add(D::DueTime.between(since, occur)),
                ),
        )
        .order_by_desc(D::DueTime)
        .limit(MAX_CANDIDATES)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, campaign, variant, state, send, due)| {
            let state = DeliveryState::from_code(&state)?;
            Some(Candidate {
                id,
                campaign,
                variant: arm_of(&variant, state)?.to_owned(),
                start: attribution_start(state, send, due)?,
            })
        })
        .collect())
}

/// The goals of `ids`' campaigns (those whose spec cannot be read are logged and left out:
/// the event must still apply).
async fn goals(
    conn: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, crate::domain::campaign::Goal>, Error> {
    use campaign::Column as C;
    let rows: Vec<(Uuid, String)> = campaign::Entity::find()
        .select_only()
        .columns([C::Id, C::Spec])
        .filter(C::Id.is_in(ids))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, spec)| match serde_json::from_str::<Spec>(&spec) {
            Ok(s) => Some((id, s.goal)),
            Err(e) => {
                tracing::error!(campaign = %id, error = %e, "campaign spec unreadable; its conversions are not attributed");
                None
            }
        })
        .collect())
}

/// An ISO 4217 code as the table keeps it; anything else is none (its amount too: revenue
/// without a currency adds up to nothing).
fn currency(a: &Activity) -> (String, i64) {
    let c = &a.currency_code;
    if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) {
        (c.clone(), a.amount_minor.max(0))
    } else {
        if !c.is_empty() {
            tracing::warn!(activity = %a.activity, "activity currency is not an ISO code; its revenue is not counted");
        }
        (String::new(), 0)
    }
}

/// Attributes `a` to every delivery of its customer whose campaign's goal is `a.kind` and
/// whose window holds it (once per delivery and activity); returns the conversions written.
pub async fn record(conn: &impl ConnectionTrait, a: &Activity) -> Result<u64, Error> {
    let found = candidates(conn, a.customer, a.occur_time).await?;
    if found.is_empty() {
        return Ok(0);
    }
    let mut campaigns: Vec<Uuid> = found.iter().map(|c| c.campaign).collect();
    campaigns.sort_unstable();
    campaigns.dedup();
    let goals = goals(conn, campaigns).await?;
    let (currency_code, amount_minor) = currency(a);
    let rows: Vec<conversion::ActiveModel> = found
        .into_iter()
        .filter(|c| {
            goals.get(&c.campaign).is_some_and(|g| {
                g.kind == a.kind && in_window(c.start, g.window_days, a.occur_time)
            })
        })
        .map(|c| conversion::ActiveModel {
            delivery_id: Set(c.id),
            activity_id: Set(a.activity),
            campaign_id: Set(c.campaign),
            variant: Set(c.variant),
            customer_id: Set(a.customer),
            occur_time: Set(a.occur_time),
            occur_day: Set(day_of(a.occur_time)),
            currency_code: Set(currency_code.clone()),
            amount_minor: Set(amount_minor),
        })
        .collect();
    let written = conversion::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([
            conversion::Column::DeliveryId,
            conversion::Column::ActivityId,
        ])
        .exec_without_returning(conn)
        .await?;
    Ok(match written {
        TryInsertResult::Inserted(n) => n,
        TryInsertResult::Empty | TryInsertResult::Conflicted => 0,
    })
}

/// Per variant of `campaign` ("" for the holdout): recipients with at least one conversion.
pub async fn converted_by_variant(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
) -> Result<Vec<(String, u64)>, Error> {
    use conversion::Column as C;
    let rows: Vec<(String, i64)> = conversion::Entity::find()
        .select_only()
        .column(C::Variant)
        .column_as(Expr::cust("COUNT(DISTINCT delivery_id)"), "n")
        .filter(C::CampaignId.eq(campaign.0))
        .group_by(C::Variant)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(v, n)| (v, u64::try_from(n).unwrap_or(0)))
        .collect())
}
