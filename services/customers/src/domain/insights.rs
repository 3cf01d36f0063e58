//! RFM scoring, segment and a simple, explainable churn-risk score. Every figure is defined
//! in the README ("Insights, figure by figure"); the tests below check each one against a
//! hand computation.
use super::Money;
use chrono::{DateTime, Duration, Utc};
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

/// How many of the most recent purchases feed the rhythm (usual gap, half-year trend).
pub const RECENT_WINDOW: usize = 100;

/// One purchase as stored: when, and for how much (rows without an amount still count as
/// orders).
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    pub time: DateTime<Utc>,
    pub amount: Option<Money>,
}

/// What insights are computed from: a customer's purchases, aggregated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PurchaseSummary {
    pub order_count: i64,
    /// Spend per currency, largest first; a total beyond `i64::MAX` minor units (only rows
    /// stored before amounts were bounded can get there) saturates at `i64::MAX`.
    pub totals: Vec<Money>,
    /// Exact spend and number of priced orders in the main (largest) currency.
    pub main_total_minor: i128,
    pub main_orders: i64,
    pub first_purchase: Option<DateTime<Utc>>,
    pub last_purchase: Option<DateTime<Utc>>,
    /// The most recent purchase times, newest first (at most [`RECENT_WINDOW`]).
    pub recent_purchases: Vec<DateTime<Utc>>,
    /// Orders and spend (main currency, saturating) in the last 365 days.
    pub orders_last_year: i64,
    pub spend_last_year_minor: i64,
    pub complaints_last_90_days: i64,
}

fn saturate(n: i128) -> i64 {
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

impl PurchaseSummary {
    /// Aggregates `purchases` (newest first) in 128-bit sums: no stored amount can overflow
    /// them (2^64 rows of `i64::MAX` would be needed).
    pub fn from_purchases(
        purchases: &[Purchase],
        complaints_last_90_days: i64,
        now: DateTime<Utc>,
    ) -> Self {
        let mut exact: Vec<(String, i128, i64)> = Vec::new();
        for m in purchases.iter().filter_map(|p| p.amount.as_ref()) {
            match exact.iter_mut().find(|(c, _, _)| *c == m.currency) {
                Some((_, total, orders)) => {
                    *total += i128::from(m.amount_minor);
                    *orders += 1;
                }
                None => exact.push((m.currency.clone(), i128::from(m.amount_minor), 1)),
            }
        }
        exact.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let main = exact.first().map(|(c, _, _)| c.as_str());
        let year_ago = now - Duration::days(365);
        let last_year = purchases.iter().filter(|p| p.time >= year_ago);
        let spend_last_year: i128 = last_year
            .clone()
            .filter_map(|p| p.amount.as_ref())
            .filter(|m| Some(m.currency.as_str()) == main)
            .map(|m| i128::from(m.amount_minor))
            .sum();
        Self {
            order_count: i64::try_from(purchases.len()).unwrap_or(i64::MAX),
            main_total_minor: exact.first().map_or(0, |e| e.1),
            main_orders: exact.first().map_or(0, |e| e.2),
            totals: exact
                .iter()
                .map(|(currency, total, _)| Money {
                    currency: currency.clone(),
                    amount_minor: saturate(*total),
                })
                .collect(),
            first_purchase: purchases.last().map(|p| p.time),
            last_purchase: purchases.first().map(|p| p.time),
            recent_purchases: purchases
                .iter()
                .take(RECENT_WINDOW)
                .map(|p| p.time)
                .collect(),
            orders_last_year: i64::try_from(last_year.count()).unwrap_or(i64::MAX),
            spend_last_year_minor: saturate(spend_last_year),
            complaints_last_90_days,
        }
    }
}

/// The purchases of one currency (`None`: the orders without a price), aggregated by the
/// database: orders, orders with an amount, and their exact spend.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrencyTotal {
    pub currency: Option<String>,
    pub orders: i64,
    pub priced_orders: i64,
    pub total_minor: i128,
}

impl PurchaseSummary {
    /// The summary from totals per currency (ever and since a year before now), the most
    /// recent purchase times (newest first, at most [`RECENT_WINDOW`]) and the first
    /// purchase: what [`Self::from_purchases`] computes, without the whole history.
    pub fn from_totals(
        ever: &[CurrencyTotal],
        last_year: &[CurrencyTotal],
        recent_purchases: Vec<DateTime<Utc>>,
        first_purchase: Option<DateTime<Utc>>,
        complaints_last_90_days: i64,
    ) -> Self {
        let mut exact: Vec<(&str, i128, i64)> = ever
            .iter()
            .filter(|t| t.priced_orders > 0)
            .filter_map(|t| Some((t.currency.as_deref()?, t.total_minor, t.priced_orders)))
            .collect();
        exact.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let main = exact.first().map(|e| e.0);
        let orders = |ts: &[CurrencyTotal]| ts.iter().fold(0i64, |n, t| n.saturating_add(t.orders));
        let spend_last_year = last_year
            .iter()
            .filter(|t| t.currency.as_deref() == main && main.is_some())
            .map(|t| t.total_minor)
            .sum();
        Self {
            order_count: orders(ever),
            main_total_minor: exact.first().map_or(0, |e| e.1),
            main_orders: exact.first().map_or(0, |e| e.2),
            totals: exact
                .iter()
                .map(|(currency, total, _)| Money {
                    currency: (*currency).to_owned(),
                    amount_minor: saturate(*total),
                })
                .collect(),
            first_purchase,
            last_purchase: recent_purchases.first().copied(),
            recent_purchases,
            orders_last_year: orders(last_year),
            spend_last_year_minor: saturate(spend_last_year),
            complaints_last_90_days,
        }
    }
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

fn recency_score(days: i64, t: &RfmThresholds) -> i32 {
    let [r5, r4, r3, r2] = t.recency_days;
    match days {
        d if d <= r5 => 5,
        d if d <= r4 => 4,
        d if d <= r3 => 3,
        d if d <= r2 => 2,
        _ => 1,
    }
}

/// The segment of a customer with scores `r`, `f`, `m` and `orders` purchases ever; the
/// first matching rule wins (the README has the same table).
fn segment(r: i32, f: i32, m: i32, orders: i64) -> &'static str {
    // F and M together, rounded up: a big spender with few orders still counts.
    let fm = (f + m + 1) / 2;
    match (r, f, fm) {
        _ if orders == 0 => "no_purchases",
        // First-time buyers are judged by recency alone: one order is no loyalty yet.
        (5, _, _) if orders == 1 => "new",
        (3.., _, _) if orders == 1 => "promising",
        (2, _, _) if orders == 1 => "hibernating",
        _ if orders == 1 => "lost",
        (4.., 4.., 4..) => "champions",
        (3.., 3.., 3..) => "loyal",
        (4.., _, _) => "potential_loyalist",
        (3, _, _) => "needs_attention",
        (_, _, 4..) => "cannot_lose",
        (_, 2.., _) | (_, _, 3) => "at_risk",
        (2, _, _) => "hibernating",
        _ => "lost",
    }
}

/// The median of the gaps in whole days between consecutive purchases (`times` newest
/// first), the mean of the two middle gaps for an even count. Gaps under one day are left
/// out: orders placed the same day are one visit, not a rhythm of zero days. `None` when no
/// gap is left.
fn usual_gap_days(times: &[DateTime<Utc>]) -> Option<f64> {
    let mut gaps: Vec<i64> = times
        .windows(2)
        .map(|w| (w[0] - w[1]).num_days())
        .filter(|d| *d >= 1)
        .collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    let mid = gaps.len() / 2;
    Some(if gaps.len().is_multiple_of(2) {
        (gaps[mid - 1] as f64 + gaps[mid] as f64) / 2.0
    } else {
        gaps[mid] as f64
    })
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

/// Risk from silence: 0 up to the usual gap, then (x - 1) / (x + 1) where x is the days
/// since the last purchase divided by the usual gap: 1/3 at twice the gap, 1/2 at three
/// times, 9/11 at ten times, rising towards 1.0 without reaching it.
fn silence_risk(overdue: f64) -> f64 {
    if overdue <= 1.0 {
        0.0
    } else {
        (overdue - 1.0) / (overdue + 1.0)
    }
}

/// Risk from complaints in the last 90 days: 0.15 each, at most 0.3.
fn complaint_risk(complaints: i64) -> f64 {
    (0.15 * complaints.clamp(0, 2) as f64).min(0.3)
}

/// Independent risks combined as probabilities: 1 - (1 - a)(1 - b)...; never above 1.0,
/// and rising with each of them.
fn combine(risks: &[f64]) -> f64 {
    1.0 - risks.iter().map(|r| 1.0 - r).product::<f64>()
}

fn complaint_reason(n: i64) -> String {
    format!("{n} complaint(s) in the last 90 days")
}

pub fn compute(s: &PurchaseSummary, now: DateTime<Utc>, t: &RfmThresholds) -> Insights {
    let Some(last) = s.last_purchase else {
        let mut reasons = vec!["no purchases yet".to_owned()];
        if s.complaints_last_90_days > 0 {
            reasons.push(complaint_reason(s.complaints_last_90_days));
        }
        return Insights {
            recency: 0,
            frequency: 0,
            monetary: 0,
            segment: "no_purchases",
            average_order: None,
            days_since_last_purchase: None,
            churn_risk: round3(complaint_risk(s.complaints_last_90_days)),
            churn_reasons: reasons,
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

    let mut reasons = Vec::new();
    let gap =
        usual_gap_days(&s.recent_purchases).unwrap_or(t.default_purchase_gap_days.max(1) as f64);
    let overdue = days as f64 / gap;
    let silence = silence_risk(overdue);
    if overdue > 1.5 {
        reasons.push(format!(
            "no purchase for {days} days (usual gap {gap} days)"
        ));
    }
    let complaints = complaint_risk(s.complaints_last_90_days);
    if s.complaints_last_90_days > 0 {
        reasons.push(complaint_reason(s.complaints_last_90_days));
    }
    let half_year = Duration::days(182);
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
    let decline = if before >= 2 && recent * 2 <= before {
        reasons.push(format!(
            "purchases fell from {before} to {recent} per half year"
        ));
        0.15
    } else {
        0.0
    };
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
        churn_risk: round3(combine(&[silence, complaints, decline])),
        churn_reasons: reasons,
    }
}

/// Three decimals, half away from zero.
fn round3(x: f64) -> f64 {
    (x.clamp(0.0, 1.0) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thresholds() -> RfmThresholds {
        RfmThresholds {
            recency_days: [30, 90, 180, 365],
            frequency_orders: [2, 3, 5, 10],
            monetary_minor: [10_000, 50_000, 100_000, 500_000],
            default_purchase_gap_days: 90,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).expect("time")
    }

    fn cny(amount_minor: i64) -> Option<Money> {
        Some(Money {
            currency: "CNY".into(),
            amount_minor,
        })
    }

    /// Purchases `(days ago, amount in fen)`, newest first as the store returns them.
    fn history(items: &[(i64, i64)]) -> Vec<Purchase> {
        let mut p: Vec<_> = items
            .iter()
            .map(|(d, a)| Purchase {
                time: now() - Duration::days(*d),
                amount: cny(*a),
            })
            .collect();
        p.sort_by_key(|x| std::cmp::Reverse(x.time));
        p
    }

    fn insights(items: &[(i64, i64)], complaints: i64) -> Insights {
        let s = PurchaseSummary::from_purchases(&history(items), complaints, now());
        compute(&s, now(), &thresholds())
    }

    fn spread(days: &[i64], amount: i64) -> Vec<(i64, i64)> {
        days.iter().map(|d| (*d, amount)).collect()
    }

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
    fn segments_follow_the_documented_table() {
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    let s = segment(r, f, m, 3);
                    assert!(!["new", "promising", "no_purchases"].contains(&s));
                }
            }
        }
        assert_eq!(segment(5, 4, 4, 9), "champions");
        // FM = (4 + 3 + 1) / 2 = 4; with F = 1 the same customer cannot be loyal.
        assert_eq!(segment(5, 4, 3, 9), "champions");
        assert_eq!(segment(5, 4, 1, 9), "loyal"); // FM = (4 + 1 + 1) / 2 = 3
        assert_eq!(segment(5, 1, 5, 9), "potential_loyalist"); // F = 1 < 3
        assert_eq!(segment(5, 3, 3, 9), "loyal");
        assert_eq!(segment(3, 5, 5, 9), "loyal");
        assert_eq!(segment(4, 2, 1, 2), "potential_loyalist");
        assert_eq!(segment(3, 2, 2, 2), "needs_attention");
        assert_eq!(segment(1, 5, 5, 9), "cannot_lose");
        assert_eq!(segment(2, 2, 1, 2), "at_risk");
        assert_eq!(segment(2, 1, 1, 2), "hibernating");
        assert_eq!(segment(1, 1, 1, 2), "lost");
        assert_eq!(segment(1, 1, 1, 1), "lost");
    }

    #[test]
    fn usual_gap_is_the_true_median() {
        let times = |days: &[i64]| -> Vec<DateTime<Utc>> {
            days.iter().map(|d| now() - Duration::days(*d)).collect()
        };
        // Gaps 10, 20, 40, 50: the mean of the middle two is (20 + 40) / 2 = 30, not 40.
        assert_eq!(usual_gap_days(&times(&[0, 10, 30, 70, 120])), Some(30.0));
        // Gaps 3, 4: 3.5; same-day orders (gap 0) are one visit and left out.
        assert_eq!(usual_gap_days(&times(&[0, 0, 3, 7])), Some(3.5));
        // Gaps 1, 5, 9: 5. A gap of one day counts: there is no hidden 7-day floor.
        assert_eq!(usual_gap_days(&times(&[0, 1, 6, 15])), Some(5.0));
        assert_eq!(usual_gap_days(&times(&[5, 5])), None);
        assert_eq!(usual_gap_days(&times(&[5])), None);
    }

    #[test]
    fn churn_risk_rises_towards_one_with_silence() {
        // A weekly buyer (gaps 7, 7, 7), silent 14 days: x = 14 / 7 = 2,
        // (2 - 1) / (2 + 1) = 0.333.
        let weekly = insights(&spread(&[14, 21, 28, 35], 10_000), 0);
        assert_eq!(weekly.churn_risk, 0.333);
        assert_eq!(
            weekly.churn_reasons,
            ["no purchase for 14 days (usual gap 7 days)"]
        );
        // A monthly buyer (gaps 30, 30, 30) a few months overdue: 120 days, x = 4,
        // 3 / 5 = 0.6.
        let months = insights(&spread(&[120, 150, 180, 210], 10_000), 0);
        assert_eq!(months.churn_risk, 0.6);
        // The same buyer silent for 29 years (10,592 days): x = 10592 / 30 = 353.07,
        // 352.07 / 354.07 = 0.99435 -> 0.994. It used to be 0.7, like the one above.
        let gone = insights(&spread(&[10_592, 10_622, 10_652, 10_682], 10_000), 0);
        assert_eq!(gone.churn_risk, 0.994);
        assert!(gone.churn_risk > months.churn_risk);
        // The silence part is monotone and stays below 1.0.
        let mut last = 0.0;
        for tenths in 0..100_000 {
            let r = silence_risk(f64::from(tenths) / 10.0);
            assert!(r >= last && r < 1.0, "{tenths}: {r} after {last}");
            last = r;
        }
    }

    #[test]
    fn churn_risk_combines_silence_complaints_and_decline() {
        // Purchases 300, 330, 360, 390 days ago: gaps 30, x = 300 / 30 = 10,
        // silence = 9 / 11; one complaint = 0.15; 3 purchases 182..364 days ago against
        // 0 since = decline 0.15. 1 - (2/11)(0.85)(0.85) = 1 - 0.131364 = 0.868636 -> 0.869.
        let i = insights(&spread(&[300, 330, 360, 390], 50_000), 1);
        assert_eq!(i.recency, 2);
        assert_eq!(i.churn_risk, 0.869);
        assert_eq!(
            i.churn_reasons,
            [
                "no purchase for 300 days (usual gap 30 days)",
                "1 complaint(s) in the last 90 days",
                "purchases fell from 3 to 0 per half year",
            ]
        );
        // No purchases, three complaints: capped at 0.3.
        let none = insights(&[], 3);
        assert_eq!(none.churn_risk, 0.3);
        // One purchase 135 days ago: the default gap of 90 days, x = 1.5,
        // 0.5 / 2.5 = 0.2 (and no reason: x is not above 1.5).
        let once = insights(&[(135, 10_000)], 0);
        assert_eq!(once.churn_risk, 0.2);
        assert_eq!(once.churn_reasons, ["buying at the usual rhythm"]);
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
        let s = PurchaseSummary::from_purchases(&mixed, 0, now());
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
        let s = PurchaseSummary::from_purchases(&history(&items), 0, now());
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
        let s = PurchaseSummary::from_purchases(&odd, 0, now());
        let i = compute(&s, now(), &thresholds());
        assert_eq!(i.days_since_last_purchase, Some(0));
        assert!((0.0..=1.0).contains(&i.churn_risk));
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
