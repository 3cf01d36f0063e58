//! What insights are computed from: a customer's purchases and refunds, aggregated (in the
//! database, or here from the rows).
use crate::domain::Money;
use chrono::{DateTime, Duration, Utc};

/// How many of the most recent purchases feed the rhythm (usual gap, half-year trend).
pub const RECENT_WINDOW: usize = 100;

/// One purchase as stored: when, and for how much (rows without an amount still count as
/// orders).
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    pub time: DateTime<Utc>,
    pub amount: Option<Money>,
}

/// One refund as insights see it: when the money went back, and how much. Refunds lower
/// spend; they are never orders.
pub type Refund = Purchase;

/// What insights are computed from: a customer's purchases and refunds, aggregated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PurchaseSummary {
    pub order_count: i64,
    /// Spend per currency net of refunds (never below zero), largest first; a total beyond
    /// `i64::MAX` minor units (only rows stored before amounts were bounded can get there)
    /// saturates at `i64::MAX`.
    pub totals: Vec<Money>,
    /// Exact net spend and number of priced orders in the main (largest) currency.
    pub main_total_minor: i128,
    pub main_orders: i64,
    pub first_purchase: Option<DateTime<Utc>>,
    pub last_purchase: Option<DateTime<Utc>>,
    /// The most recent purchase times, newest first (at most [`RECENT_WINDOW`]).
    pub recent_purchases: Vec<DateTime<Utc>>,
    /// Orders and net spend (main currency, saturating) in the last 365 days.
    pub orders_last_year: i64,
    pub spend_last_year_minor: i64,
    pub complaints_last_90_days: i64,
}

pub(super) fn saturate(n: i128) -> i64 {
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

impl PurchaseSummary {
    /// The definition over the whole history: aggregates `purchases` and `refunds` (both
    /// newest first) per currency in 128-bit sums (no stored amount can overflow them: 2^64
    /// rows of `i64::MAX` would be needed), as the database does, then [`Self::from_totals`].
    pub fn from_history(
        purchases: &[Purchase],
        refunds: &[Refund],
        complaints_last_90_days: i64,
        now: DateTime<Utc>,
    ) -> Self {
        let year_ago = now - Duration::days(365);
        let totals = |rows: &[Purchase]| KindTotals {
            ever: CurrencyTotal::sum(rows),
            last_year: CurrencyTotal::sum(rows.iter().filter(|p| p.time >= year_ago)),
        };
        Self::from_totals(
            &totals(purchases),
            &totals(refunds),
            purchases
                .iter()
                .take(RECENT_WINDOW)
                .map(|p| p.time)
                .collect(),
            purchases.last().map(|p| p.time),
            complaints_last_90_days,
        )
    }
}

/// The purchases (or refunds) of one currency (`None`: those without an amount), aggregated
/// by the database: rows, rows with an amount, and their exact sum.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrencyTotal {
    pub currency: Option<String>,
    pub orders: i64,
    pub priced_orders: i64,
    pub total_minor: i128,
}

impl CurrencyTotal {
    /// What the database's per-currency aggregate returns for `rows`.
    fn sum<'a>(rows: impl IntoIterator<Item = &'a Purchase>) -> Vec<Self> {
        let mut out: Vec<Self> = Vec::new();
        for p in rows {
            let currency = p.amount.as_ref().map(|m| m.currency.clone());
            let i = match out.iter().position(|t| t.currency == currency) {
                Some(i) => i,
                None => {
                    out.push(Self {
                        currency,
                        orders: 0,
                        priced_orders: 0,
                        total_minor: 0,
                    });
                    out.len() - 1
                }
            };
            let t = &mut out[i];
            t.orders += 1;
            if let Some(m) = &p.amount {
                t.priced_orders += 1;
                t.total_minor += i128::from(m.amount_minor);
            }
        }
        out
    }
}

/// One kind's totals per currency, ever and in the 365 days before now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KindTotals {
    pub ever: Vec<CurrencyTotal>,
    pub last_year: Vec<CurrencyTotal>,
}

/// The exact sum of `totals` in `currency`.
fn sum_in(totals: &[CurrencyTotal], currency: &str) -> i128 {
    totals
        .iter()
        .filter(|t| t.currency.as_deref() == Some(currency))
        .map(|t| t.total_minor)
        .sum()
}

impl PurchaseSummary {
    /// The summary from purchase and refund totals per currency, the most recent purchase
    /// times (newest first, at most [`RECENT_WINDOW`]) and the first purchase: the whole
    /// definition, without the whole history. Spend is net of refunds per currency and never
    /// below zero (a refund of an order from before the recorded history cannot make it
    /// negative); a refund in a currency nothing was bought in changes nothing. Refunds are
    /// counted at their own time, so one in the last 365 days lowers that year's spend.
    pub fn from_totals(
        purchases: &KindTotals,
        refunds: &KindTotals,
        recent_purchases: Vec<DateTime<Utc>>,
        first_purchase: Option<DateTime<Utc>>,
        complaints_last_90_days: i64,
    ) -> Self {
        let net = |bought: i128, currency: &str, refunded: &[CurrencyTotal]| {
            (bought - sum_in(refunded, currency)).max(0)
        };
        let mut exact: Vec<(&str, i128, i64)> = purchases
            .ever
            .iter()
            .filter(|t| t.priced_orders > 0)
            .filter_map(|t| {
                let c = t.currency.as_deref()?;
                Some((c, net(t.total_minor, c, &refunds.ever), t.priced_orders))
            })
            .collect();
        exact.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let main = exact.first().map(|e| e.0);
        let orders = |ts: &[CurrencyTotal]| ts.iter().fold(0i64, |n, t| n.saturating_add(t.orders));
        let spend_last_year = main.map_or(0, |c| {
            net(sum_in(&purchases.last_year, c), c, &refunds.last_year)
        });
        Self {
            order_count: orders(&purchases.ever),
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
            orders_last_year: orders(&purchases.last_year),
            spend_last_year_minor: saturate(spend_last_year),
            complaints_last_90_days,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{cny, history, now};
    use super::*;

    fn eur(amount_minor: i64) -> Option<Money> {
        Some(Money {
            currency: "EUR".into(),
            amount_minor,
        })
    }

    #[test]
    fn refunds_are_netted_per_currency_and_never_below_zero() {
        // CNY: 300.00 + 200.00 bought, 150.00 refunded; EUR: 80.00 bought, 100.00 refunded
        // (an order from before the recorded history), so 0, never -20.00.
        let mut purchases = history(&[(3, 30_000), (20, 20_000)]);
        purchases.push(Purchase {
            time: now() - Duration::days(30),
            amount: eur(8_000),
        });
        let mut refunds = history(&[(1, 15_000)]);
        refunds.push(Refund {
            time: now() - Duration::days(2),
            amount: eur(10_000),
        });
        // A refund in a currency nothing was bought in changes nothing.
        refunds.push(Refund {
            time: now() - Duration::days(2),
            amount: Some(Money {
                currency: "USD".into(),
                amount_minor: 999,
            }),
        });
        purchases.sort_by_key(|p| std::cmp::Reverse(p.time));
        refunds.sort_by_key(|p| std::cmp::Reverse(p.time));
        let s = PurchaseSummary::from_history(&purchases, &refunds, 0, now());
        assert_eq!(s.order_count, 3, "refunds are not orders");
        assert_eq!(s.totals, [cny(35_000), eur(0)].map(|m| m.expect("money")));
        assert_eq!((s.main_total_minor, s.main_orders), (35_000, 2));
        assert_eq!(s.spend_last_year_minor, 35_000);
        assert_eq!(
            s.last_purchase,
            Some(now() - Duration::days(3)),
            "not the refund"
        );
    }

    #[test]
    fn a_refund_counts_in_the_year_it_was_made() {
        // 500.00 bought 400 days ago, 100.00 of it refunded 300 days ago, 200.00 bought 10
        // days ago: ever 600.00; last 365 days 200.00 - 100.00 = 100.00.
        let purchases = history(&[(10, 20_000), (400, 50_000)]);
        let refunds = history(&[(300, 10_000)]);
        let s = PurchaseSummary::from_history(&purchases, &refunds, 0, now());
        assert_eq!(s.totals, [cny(60_000).expect("money")]);
        assert_eq!((s.orders_last_year, s.spend_last_year_minor), (1, 10_000));
        // Refunded twice the year's purchases: the year's spend is 0.
        let refunds = history(&[(300, 10_000), (5, 30_000)]);
        let s = PurchaseSummary::from_history(&purchases, &refunds, 0, now());
        assert_eq!(s.spend_last_year_minor, 0);
        assert_eq!(s.totals, [cny(30_000).expect("money")]);
    }
}
