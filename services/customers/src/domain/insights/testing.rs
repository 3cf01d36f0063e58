//! Helpers of the insights tests: a fixed clock and purchase histories.
use super::{Insights, Purchase, PurchaseSummary, RfmThresholds, compute};
use crate::domain::Money;
use chrono::{DateTime, Duration, Utc};

pub(super) fn thresholds() -> RfmThresholds {
    RfmThresholds {
        recency_days: [30, 90, 180, 365],
        frequency_orders: [2, 3, 5, 10],
        monetary_minor: [10_000, 50_000, 100_000, 500_000],
        default_purchase_gap_days: 90,
    }
}

pub(super) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).expect("time")
}

pub(super) fn cny(amount_minor: i64) -> Option<Money> {
    Some(Money {
        currency: "CNY".into(),
        amount_minor,
    })
}

/// Purchases `(days ago, amount in fen)`, newest first as the store returns them.
pub(super) fn history(items: &[(i64, i64)]) -> Vec<Purchase> {
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

pub(super) fn insights(items: &[(i64, i64)], complaints: i64) -> Insights {
    let s = PurchaseSummary::from_history(&history(items), &[], complaints, now());
    compute(&s, now(), &thresholds())
}

/// Insights of purchases and refunds, both `(days ago, amount in fen)`.
pub(super) fn insights_with_refunds(purchases: &[(i64, i64)], refunds: &[(i64, i64)]) -> Insights {
    let s = PurchaseSummary::from_history(&history(purchases), &history(refunds), 0, now());
    compute(&s, now(), &thresholds())
}

pub(super) fn spread(days: &[i64], amount: i64) -> Vec<(i64, i64)> {
    days.iter().map(|d| (*d, amount)).collect()
}
