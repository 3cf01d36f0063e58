//! What insights are computed from: a customer's purchases, aggregated (in the database, or
//! here from the rows).
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

pub(super) fn saturate(n: i128) -> i64 {
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
