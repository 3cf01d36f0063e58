//! RFM scoring, segment and a simple, explainable churn-risk score.
use super::Money;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Score thresholds (configurable in `[customers.insights]`). Each list holds the lower
/// bounds for scores 2, 3, 4 and 5; recency bounds are upper bounds in days for 5, 4, 3, 2.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RfmThresholds {
    pub recency_days: [i64; 4],
    pub frequency_orders: [i64; 4],
    pub monetary_minor: [i64; 4],
    /// Gap assumed between purchases for customers with a single purchase.
    pub default_purchase_gap_days: i64,
}

/// What the store aggregates from a customer's activities.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PurchaseSummary {
    pub order_count: i64,
    /// Spend per currency, largest first.
    pub totals: Vec<Money>,
    pub first_purchase: Option<DateTime<Utc>>,
    pub last_purchase: Option<DateTime<Utc>>,
    /// The most recent purchase times, newest first (a bounded window).
    pub recent_purchases: Vec<DateTime<Utc>>,
    /// Orders and spend (main currency) in the last 365 days.
    pub orders_last_year: i64,
    pub spend_last_year_minor: i64,
    pub complaints_last_90_days: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Insights {
    pub recency: i32,
    pub frequency: i32,
    pub monetary: i32,
    pub segment: &'static str,
    pub average_order: Option<Money>,
    pub days_since_last_purchase: Option<i64>,
    pub churn_risk: f64,
    pub churn_reasons: Vec<String>,
}

fn score_up(value: i64, bounds: &[i64; 4]) -> i32 {
    1 + bounds.iter().filter(|b| value >= **b).count() as i32
}

fn segment(r: i32, f: i32, m: i32, orders: i64) -> &'static str {
    let fm = (f + m + 1) / 2;
    match (r, fm) {
        _ if orders == 0 => "no_purchases",
        (4.., 4..) => "champions",
        (3.., 3..) => "loyal",
        (4.., _) if orders == 1 => "new",
        (3.., 2) => "potential_loyalist",
        (4.., _) => "promising",
        (3, _) => "needs_attention",
        (_, 4..) => "cannot_lose",
        (_, 3) => "at_risk",
        (2, _) => "hibernating",
        _ => "lost",
    }
}

fn median_gap_days(times: &[DateTime<Utc>]) -> Option<i64> {
    let mut gaps: Vec<i64> = times.windows(2).map(|w| (w[0] - w[1]).num_days()).collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    Some(gaps[gaps.len() / 2])
}

pub fn compute(s: &PurchaseSummary, now: DateTime<Utc>, t: &RfmThresholds) -> Insights {
    let Some(last) = s.last_purchase else {
        let mut reasons = vec!["no purchases yet".to_owned()];
        let mut risk = 0.0;
        if s.complaints_last_90_days > 0 {
            risk = (0.15 * s.complaints_last_90_days as f64).min(0.3);
            reasons.push(format!(
                "{} complaint(s) in the last 90 days",
                s.complaints_last_90_days
            ));
        }
        return Insights {
            recency: 0,
            frequency: 0,
            monetary: 0,
            segment: "no_purchases",
            average_order: None,
            days_since_last_purchase: None,
            churn_risk: risk,
            churn_reasons: reasons,
        };
    };
    let days = (now - last).num_days().max(0);
    let [r5, r4, r3, r2] = t.recency_days;
    let recency = match days {
        d if d <= r5 => 5,
        d if d <= r4 => 4,
        d if d <= r3 => 3,
        d if d <= r2 => 2,
        _ => 1,
    };
    let frequency = score_up(s.orders_last_year, &t.frequency_orders);
    let monetary = score_up(s.spend_last_year_minor, &t.monetary_minor);
    let average_order = s.totals.first().map(|m| {
        let count = s.order_count.max(1);
        Money {
            currency: m.currency.clone(),
            amount_minor: m.amount_minor / count,
        }
    });

    let mut risk = 0.0_f64;
    let mut reasons = Vec::new();
    let gap = median_gap_days(&s.recent_purchases)
        .unwrap_or(t.default_purchase_gap_days)
        .max(7);
    let overdue = days as f64 / gap as f64;
    if overdue > 1.0 {
        risk += ((overdue - 1.0) / 3.0).min(1.0) * 0.7;
    }
    if overdue > 1.5 {
        reasons.push(format!(
            "no purchase for {days} days (usual gap {gap} days)"
        ));
    }
    if s.complaints_last_90_days > 0 {
        risk += (0.15 * s.complaints_last_90_days as f64).min(0.3);
        reasons.push(format!(
            "{} complaint(s) in the last 90 days",
            s.complaints_last_90_days
        ));
    }
    let half_year = chrono::Duration::days(182);
    let recent = s
        .recent_purchases
        .iter()
        .filter(|t| now - **t <= half_year)
        .count();
    let before = s
        .recent_purchases
        .iter()
        .filter(|t| now - **t > half_year && now - **t <= half_year * 2)
        .count();
    if before >= 2 && recent * 2 <= before {
        risk += 0.15;
        reasons.push(format!(
            "purchases fell from {before} to {recent} per half year"
        ));
    }
    if reasons.is_empty() {
        reasons.push("buying at the usual rhythm".to_owned());
    }
    Insights {
        recency,
        frequency,
        monetary,
        segment: segment(recency, frequency, monetary, s.order_count),
        average_order,
        days_since_last_purchase: Some(days),
        churn_risk: (risk.min(1.0) * 1000.0).round() / 1000.0,
        churn_reasons: reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn thresholds() -> RfmThresholds {
        RfmThresholds {
            recency_days: [30, 90, 180, 365],
            frequency_orders: [2, 3, 5, 10],
            monetary_minor: [10_000, 50_000, 100_000, 500_000],
            default_purchase_gap_days: 90,
        }
    }

    fn summary(now: DateTime<Utc>, days_ago: &[i64], spend: i64) -> PurchaseSummary {
        let times: Vec<_> = days_ago.iter().map(|d| now - Duration::days(*d)).collect();
        PurchaseSummary {
            order_count: times.len() as i64,
            totals: vec![Money {
                currency: "CNY".into(),
                amount_minor: spend,
            }],
            first_purchase: times.last().copied(),
            last_purchase: times.first().copied(),
            orders_last_year: days_ago.iter().filter(|d| **d <= 365).count() as i64,
            spend_last_year_minor: spend,
            recent_purchases: times,
            complaints_last_90_days: 0,
        }
    }

    #[test]
    fn frequent_recent_big_spender_is_a_champion() {
        let now = Utc::now();
        let i = compute(
            &summary(now, &[3, 20, 40, 60, 80, 100, 120, 140, 160, 180], 600_000),
            now,
            &thresholds(),
        );
        assert_eq!((i.recency, i.frequency, i.monetary), (5, 5, 5));
        assert_eq!(i.segment, "champions");
        assert_eq!(
            i.average_order.as_ref().map(|m| m.amount_minor),
            Some(60_000)
        );
        assert!(i.churn_risk < 0.1, "{i:?}");
    }

    #[test]
    fn long_silence_raises_churn_risk_with_a_reason() {
        let now = Utc::now();
        let mut s = summary(now, &[300, 330, 360, 390], 200_000);
        s.complaints_last_90_days = 1;
        let i = compute(&s, now, &thresholds());
        assert_eq!(i.recency, 2);
        assert!(i.churn_risk > 0.8, "{i:?}");
        assert!(
            i.churn_reasons
                .iter()
                .any(|r| r.contains("no purchase for 300 days (usual gap 30 days)")),
            "{:?}",
            i.churn_reasons
        );
        assert!(i.churn_reasons.iter().any(|r| r.contains("complaint")));
    }

    #[test]
    fn one_recent_purchase_is_new() {
        let now = Utc::now();
        let i = compute(&summary(now, &[2], 5_000), now, &thresholds());
        assert_eq!(i.segment, "new");
        assert_eq!(
            compute(&PurchaseSummary::default(), now, &thresholds()).segment,
            "no_purchases"
        );
    }

    #[test]
    fn segments_cover_the_grid() {
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    assert!(!segment(r, f, m, 3).is_empty());
                }
            }
        }
        assert_eq!(segment(1, 5, 5, 9), "cannot_lose");
        assert_eq!(segment(1, 1, 1, 1), "lost");
    }
}
