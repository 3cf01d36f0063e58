//! The campaign report's aggregates (README "Campaign reports"): deliveries per variant,
//! state and reason (index `deliveries_campaign_variant`), conversions per variant and
//! currency and per day (index `conversions_campaign`). Grouped in SQL: no row is loaded.
use super::entities::{conversion, delivery};
use crate::domain::CampaignId;
use crate::domain::campaign::{DeliveryState, Reason};
use crate::domain::report::{ConversionTotal, DayTotal, DeliveryTally};
use crm_platform::Error;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

/// Groups of a conversions query at most (variants x currencies, or x days): far above any
/// real campaign, a bound all the same.
const MAX_GROUPS: u64 = 20_000;

/// Deliveries of `campaign` per (variant, state, reason), with their opens and clicks. The
/// groups are bounded by construction (at most 27 arms x 12 states x 13 reasons), and a
/// LIMIT would hurt: PostgreSQL's generic plan for a bound `LIMIT $n` walks the whole index
/// in order (0.8 s at a million rows) instead of a parallel hash aggregate (0.15 s).
pub async fn delivery_tallies(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
) -> Result<Vec<DeliveryTally>, Error> {
    use delivery::Column as D;
    let rows: Vec<(String, String, i32, i64, i64, i64)> = delivery::Entity::find()
        .select_only()
        .columns([D::Variant, D::State, D::Reason])
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(D::OpenTime.count(), "opened")
        .column_as(D::ClickTime.count(), "clicked")
        .filter(D::CampaignId.eq(campaign.0))
        .group_by(D::Variant)
        .group_by(D::State)
        .group_by(D::Reason)
        .into_tuple()
        .all(conn)
        .await?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(rows
        .into_iter()
        .filter_map(|(variant, state, reason, n, opened, clicked)| {
            Some(DeliveryTally {
                variant,
                state: DeliveryState::from_code(&state)?,
                reason: Reason::from_number(reason),
                count: count(n),
                opened: count(opened),
                clicked: count(clicked),
            })
        })
        .collect())
}

/// 2^32: amounts are summed as their high and low 32 bits, so neither SUM can overflow a
/// 64-bit integer (SQLite raises, PostgreSQL's numeric would not decode) below 2^31
/// conversions per group; the total is then checked.
const SPLIT: i64 = 1 << 32;

/// The columns of a conversions group: count, then the amounts' high and low sums.
fn sums<E: EntityTrait>(q: Select<E>) -> Select<E> {
    q.column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(
            Expr::cust(format!("CAST(SUM(amount_minor / {SPLIT}) AS BIGINT)")),
            "high",
        )
        .column_as(
            Expr::cust(format!("CAST(SUM(amount_minor % {SPLIT}) AS BIGINT)")),
            "low",
        )
}

/// `high * 2^32 + low` as minor units, or an error when it exceeds i64 (absurd revenue:
/// better said than wrapped).
fn revenue(campaign: CampaignId, currency: &str, high: i64, low: i64) -> Result<i64, Error> {
    let total = i128::from(high) * i128::from(SPLIT) + i128::from(low);
    i64::try_from(total).map_err(|_| {
        Error::internal(anyhow::anyhow!(
            "revenue of campaign {campaign} in {currency:?} exceeds 64 bits"
        ))
    })
}

fn total(
    campaign: CampaignId,
    (variant, currency, n, high, low): (String, String, i64, i64, i64),
) -> Result<ConversionTotal, Error> {
    Ok(ConversionTotal {
        revenue_minor: revenue(campaign, &currency, high, low)?,
        variant,
        currency,
        conversions: u64::try_from(n).unwrap_or(0),
    })
}

/// Conversions of `campaign` per (variant, currency): count and revenue.
pub async fn conversion_totals(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
) -> Result<Vec<ConversionTotal>, Error> {
    use conversion::Column as C;
    let q = conversion::Entity::find()
        .select_only()
        .columns([C::Variant, C::CurrencyCode]);
    let rows: Vec<(String, String, i64, i64, i64)> = sums(q)
        .filter(C::CampaignId.eq(campaign.0))
        .group_by(C::Variant)
        .group_by(C::CurrencyCode)
        .limit(MAX_GROUPS)
        .into_tuple()
        .all(conn)
        .await?;
    rows.into_iter().map(|r| total(campaign, r)).collect()
}

/// Conversions of `campaign` per (day, variant, currency) over the `days` days up to its
/// last conversion's, newest groups kept when there are more than [`MAX_GROUPS`].
pub async fn conversion_days(
    conn: &impl ConnectionTrait,
    campaign: CampaignId,
    days: u32,
) -> Result<Vec<DayTotal>, Error> {
    use conversion::Column as C;
    let last: Option<Option<i32>> = conversion::Entity::find()
        .select_only()
        .column_as(C::OccurDay.max(), "last")
        .filter(C::CampaignId.eq(campaign.0))
        .into_tuple()
        .one(conn)
        .await?;
    let Some(last) = last.flatten() else {
        return Ok(Vec::new());
    };
    let first = last.saturating_sub(i32::try_from(days).unwrap_or(i32::MAX)) + 1;
    let q = conversion::Entity::find().select_only().columns([
        C::OccurDay,
        C::Variant,
        C::CurrencyCode,
    ]);
    let rows: Vec<(i32, String, String, i64, i64, i64)> = sums(q)
        .filter(C::CampaignId.eq(campaign.0))
        .filter(C::OccurDay.gte(first))
        .group_by(C::OccurDay)
        .group_by(C::Variant)
        .group_by(C::CurrencyCode)
        .order_by_desc(C::OccurDay)
        .limit(MAX_GROUPS)
        .into_tuple()
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|(day, variant, currency, n, high, low)| {
            Ok(DayTotal {
                day,
                total: total(campaign, (variant, currency, n, high, low))?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revenue_is_rebuilt_from_its_halves_and_refused_past_64_bits() {
        let c = CampaignId::generate();
        // 3 amounts of 2^32 + 5: high sum 3, low sum 15.
        assert_eq!(revenue(c, "EUR", 3, 15).ok(), Some(3 * (1 << 32) + 15));
        // i64::MAX = (2^31 - 1) * 2^32 + (2^32 - 1).
        let max_high = (1i64 << 31) - 1;
        assert_eq!(revenue(c, "EUR", max_high, SPLIT - 1).ok(), Some(i64::MAX));
        assert!(revenue(c, "EUR", max_high, SPLIT).is_err());
    }
}
