//! RFM scoring, segment and a simple, explainable churn-risk score, from purchases net of
//! refunds. Every figure is defined
//! in the README ("Insights, figure by figure"); the tests (here, in `rfm` and in `churn`)
//! check each one against a hand computation.
use super::Money;
use chrono::{DateTime, Utc};
use serde::Deserialize;

mod churn;
mod rfm;
mod summary;
#[cfg(test)]
mod testing;

use rfm::{recency_score, score_up, segment};
use summary::saturate;
pub use summary::{CurrencyTotal, KindTotals, Purchase, PurchaseSummary, RECENT_WINDOW, Refund};

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

/// `total / count` rounded half away from zero (amounts are positive, so halves round up):
/// 100.5 fen becomes 101 fen, not 100.
fn rounded_average(total: i128, count: i64) -> i64 {
    let count = i128::from(count.max(1));
    let half = count / 2;
    let rounded = if total >= 0 {
        (total + half) / count
    } else {
        (total - half) / count
    };
    saturate(rounded)
}

pub fn compute(s: &PurchaseSummary, now: DateTime<Utc>, t: &RfmThresholds) -> Insights {
    let Some(last) = s.last_purchase else {
        let (churn_risk, churn_reasons) = churn::without_purchases(s.complaints_last_90_days);
        return Insights {
            recency: 0,
            frequency: 0,
            monetary: 0,
            segment: "no_purchases",
            average_order: None,
            days_since_last_purchase: None,
            churn_risk,
            churn_reasons,
        };
    };
    // A purchase stored with a future time counts as today.
    let days = (now - last).num_days().max(0);
    let recency = recency_score(days, t);
    let frequency = score_up(s.orders_last_year, &t.frequency_orders);
    let monetary = score_up(s.spend_last_year_minor, &t.monetary_minor);
    let average_order = s.totals.first().map(|m| Money {
        currency: m.currency.clone(),
        amount_minor: rounded_average(s.main_total_minor, s.main_orders),
    });
    let (churn_risk, churn_reasons) =
        churn::after_purchases(s, days, now, t.default_purchase_gap_days);
    Insights {
        recency,
        frequency,
        monetary,
        segment: segment(recency, frequency, monetary, s.order_count),
        average_order,
        days_since_last_purchase: Some(days),
        churn_risk,
        churn_reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{cny, history, insights, insights_with_refunds, now, spread, thresholds};
    use super::*;
    use chrono::Duration;

    #[test]
    fn frequent_recent_big_spender_is_a_champion() {
        let i = insights(
            &spread(&[3, 20, 40, 60, 80, 100, 120, 140, 160, 180], 60_000),
            0,
        );
        assert_eq!((i.recency, i.frequency, i.monetary), (5, 5, 5));
        assert_eq!(i.segment, "champions");
        assert_eq!(
            i.average_order.as_ref().map(|m| m.amount_minor),
            Some(60_000)
        );
        // Gaps 17, 20 x 8: median 20; 3 days since the last purchase is within it.
        assert_eq!(i.churn_risk, 0.0);
        assert_eq!(i.churn_reasons, ["buying at the usual rhythm"]);
    }

    #[test]
    fn first_time_buyers_are_new_or_promising_never_loyal() {
        // One purchase of 5,000.00 CNY 10 days ago: F = 1, M = 5 (FM = 3). It used to be
        // "loyal"; R = 5 makes it "new".
        let big = insights(&[(10, 500_000)], 0);
        assert_eq!((big.recency, big.frequency, big.monetary), (5, 1, 5));
        assert_eq!(big.segment, "new");
        // 31..=180 days ago (R = 4 or 3): promising; then hibernating (R = 2), lost (R = 1).
        assert_eq!(insights(&[(45, 500_000)], 0).segment, "promising");
        assert_eq!(insights(&[(120, 5_000)], 0).segment, "promising");
        assert_eq!(insights(&[(200, 5_000)], 0).segment, "hibernating");
        assert_eq!(insights(&[(400, 5_000)], 0).segment, "lost");
        assert_eq!(insights(&[], 0).segment, "no_purchases");
    }

    #[test]
    fn average_order_value_is_rounded_half_away_from_zero() {
        // 100 + 100 + 101 fen = 301 fen over 3 orders = 100.33 -> 100.
        assert_eq!(
            insights(&spread(&[1, 2, 3], 100), 0).average_order,
            cny(100)
        );
        let avg = |items: &[(i64, i64)]| insights(items, 0).average_order;
        assert_eq!(avg(&[(1, 100), (2, 100), (3, 101)]), cny(100));
        // 100 + 101 = 201 fen over 2 = 100.5 -> 101 (truncation gave 100).
        assert_eq!(avg(&[(1, 100), (2, 101)]), cny(101));
        // 1999 + 2000 + 2000 = 5999 over 3 = 1999.67 -> 2000 (truncation gave 1999).
        assert_eq!(avg(&[(1, 1_999), (2, 2_000), (3, 2_000)]), cny(2_000));
        // Only orders in the main currency count: 30,000 fen over 2 CNY orders, while one
        // EUR order of 5,000 cents is its own total.
        let mut mixed = history(&[(1, 10_000), (2, 20_000)]);
        mixed.push(Purchase {
            time: now() - Duration::days(3),
            amount: Some(Money {
                currency: "EUR".into(),
                amount_minor: 5_000,
            }),
        });
        let s = PurchaseSummary::from_history(&mixed, &[], 0, now());
        assert_eq!(s.order_count, 3);
        assert_eq!(
            s.totals.iter().map(|m| m.amount_minor).collect::<Vec<_>>(),
            [30_000, 5_000]
        );
        assert_eq!(compute(&s, now(), &thresholds()).average_order, cny(15_000));
    }

    #[test]
    fn huge_stored_amounts_never_overflow() {
        let items = [(1, i64::MAX), (2, i64::MAX), (3, i64::MAX)];
        let s = PurchaseSummary::from_history(&history(&items), &[], 0, now());
        assert_eq!(s.totals, [cny(i64::MAX).expect("money")]);
        assert_eq!(s.main_total_minor, 3 * i128::from(i64::MAX));
        assert_eq!(s.spend_last_year_minor, i64::MAX);
        let i = compute(&s, now(), &thresholds());
        assert_eq!(i.average_order, cny(i64::MAX));
        assert_eq!(i.monetary, 5);
        // A row stored with a year-9999 time, and one in year 1.
        let odd = vec![
            Purchase {
                time: DateTime::from_timestamp(253_402_300_799, 0).expect("9999"),
                amount: cny(1),
            },
            Purchase {
                time: DateTime::from_timestamp(-62_135_596_800, 0).expect("0001"),
                amount: cny(i64::MAX),
            },
        ];
        let s = PurchaseSummary::from_history(&odd, &[], 0, now());
        let i = compute(&s, now(), &thresholds());
        assert_eq!(i.days_since_last_purchase, Some(0));
        assert!((0.0..=1.0).contains(&i.churn_risk));
    }

    #[test]
    fn a_refund_lowers_spend_but_is_no_order_and_no_visit() {
        // Orders of 600.00 and 400.00 CNY 10 and 40 days ago; 300.00 refunded 5 days ago.
        let orders = [(10, 60_000), (40, 40_000)];
        let before = insights(&orders, 0);
        assert_eq!(
            (before.recency, before.frequency, before.monetary),
            (5, 2, 4)
        );
        let i = insights_with_refunds(&orders, &[(5, 30_000)]);
        // M: 100,000 - 30,000 = 70,000 fen (>= 50,000, < 100,000) -> 3; R still counts from
        // the purchase 10 days ago (5) and F from the 2 orders (2).
        assert_eq!((i.recency, i.frequency, i.monetary), (5, 2, 3));
        assert_eq!(i.days_since_last_purchase, Some(10));
        // 70,000 net over 2 orders.
        assert_eq!(i.average_order, cny(35_000));
        assert_eq!(i.segment, before.segment);
        assert_eq!(i.churn_risk, before.churn_risk);
        // Refunds alone are no purchases.
        assert_eq!(
            insights_with_refunds(&[], &[(5, 30_000)]).segment,
            "no_purchases"
        );
    }

    #[test]
    fn a_realistic_hotel_guest() {
        // Stays 12, 40, 75, 140, 200 and 380 days ago, 860.00, 1,200.00, 640.50, 980.00,
        // 1,100.00 and 720.00 CNY.
        let i = insights(
            &[
                (12, 86_000),
                (40, 120_000),
                (75, 64_050),
                (140, 98_000),
                (200, 110_000),
                (380, 72_000),
            ],
            0,
        );
        // R: 12 days <= 30 -> 5. F: 5 stays in the last 365 days, >= 5 -> 4.
        // M: 86,000 + 120,000 + 64,050 + 98,000 + 110,000 = 478,050 fen, >= 100,000 -> 4.
        assert_eq!((i.recency, i.frequency, i.monetary), (5, 4, 4));
        assert_eq!(i.segment, "champions");
        // Average over all 6: 550,050 / 6 = 91,675 fen exactly.
        assert_eq!(i.average_order, cny(91_675));
        // Gaps 28, 35, 65, 60, 180 -> sorted 28, 35, 60, 65, 180: median 60; 12 < 60.
        assert_eq!(i.churn_risk, 0.0);
    }
}
