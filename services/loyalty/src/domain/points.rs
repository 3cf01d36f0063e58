//! Arithmetic on points and money that never wraps or panics, and the bounds a call and a
//! wallet stay within. Writes use the checked forms (an overflow is refused as an error);
//! read views of stored values sum exactly in `i128` and clamp, since every stored value
//! passed the write path's bounds.
use serde::{Deserialize, Serialize};

/// A sum or difference of points (or money) outside `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the points arithmetic would overflow")]
pub struct Overflow;

pub fn add(a: i64, b: i64) -> Result<i64, Overflow> {
    a.checked_add(b).ok_or(Overflow)
}

pub fn sub(a: i64, b: i64) -> Result<i64, Overflow> {
    a.checked_sub(b).ok_or(Overflow)
}

/// The exact sum, or [`Overflow`].
pub fn checked_sum(values: impl IntoIterator<Item = i64>) -> Result<i64, Overflow> {
    values.into_iter().try_fold(0i64, add)
}

/// The exact sum in `i128` (no overflow for fewer than 2^64 values).
pub fn wide_sum(values: impl IntoIterator<Item = i64>) -> i128 {
    values.into_iter().map(i128::from).sum()
}

/// `v` clamped into `i64` (for views of values the write path bounded already).
pub fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// The sum of stored values for a read view: exact, clamped into `i64`.
pub fn saturating_sum(values: impl IntoIterator<Item = i64>) -> i64 {
    clamp(wide_sum(values))
}

/// Bounds of every call and wallet (`[loyalty.program.limits]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most points one Earn (purchase, action or goodwill), Redeem, Adjust (either sign),
    /// Transfer or Hold moves.
    pub max_points_per_call: i64,
    /// Most points one customer has (wallet + held); a credit beyond it is refused with
    /// FAILED_PRECONDITION / BALANCE_LIMIT.
    pub max_balance: i64,
    /// Largest purchase, item price or refund, in whole units of its currency.
    pub max_amount_major: i64,
    /// Most items in one purchase.
    pub max_items: usize,
    /// Largest quantity of one purchased item.
    pub max_quantity: i64,
}

/// Largest `max_balance` accepted: a million wallets at the maximum still sum within `i64`
/// (the ledger-wide posting total VerifyLedger computes).
pub const MAX_BALANCE_CEILING: i64 = 1_000_000_000_000;

impl Limits {
    pub fn validate(&self, at: &str, p: &mut Vec<String>) {
        if !(1..=MAX_BALANCE_CEILING).contains(&self.max_balance) {
            p.push(format!(
                "{at}.max_balance: must be between 1 and {MAX_BALANCE_CEILING}"
            ));
        }
        if self.max_points_per_call <= 0 || self.max_points_per_call > self.max_balance {
            p.push(format!(
                "{at}.max_points_per_call: must be > 0 and at most max_balance"
            ));
        }
        if !(1..=1_000_000_000_000).contains(&self.max_amount_major) {
            p.push(format!(
                "{at}.max_amount_major: must be between 1 and 10^12"
            ));
        }
        if !(1..=10_000).contains(&self.max_items) {
            p.push(format!("{at}.max_items: must be between 1 and 10000"));
        }
        if !(1..=1_000_000).contains(&self.max_quantity) {
            p.push(format!("{at}.max_quantity: must be between 1 and 1000000"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_forms_refuse_overflow() {
        assert_eq!(add(i64::MAX, 1), Err(Overflow));
        assert_eq!(sub(i64::MIN, 1), Err(Overflow));
        assert_eq!(add(2, 3), Ok(5));
        assert_eq!(
            checked_sum([i64::MAX, 1, -1]),
            Err(Overflow),
            "no wrap midway"
        );
        assert_eq!(checked_sum([1, 2, 3]), Ok(6));
        assert_eq!(checked_sum(std::iter::empty()), Ok(0));
    }

    #[test]
    fn views_sum_exactly_and_clamp() {
        assert_eq!(saturating_sum([i64::MAX, i64::MAX]), i64::MAX);
        assert_eq!(saturating_sum([i64::MIN, -1]), i64::MIN);
        assert_eq!(
            saturating_sum([i64::MAX, 1, -2]),
            i64::MAX - 1,
            "exact inside"
        );
        assert_eq!(wide_sum([i64::MAX, i64::MAX]), 2 * i128::from(i64::MAX));
    }

    #[test]
    fn limits_are_validated() {
        let mut l = crate::domain::program::tests::default_program().limits;
        let mut p = Vec::new();
        l.validate("l", &mut p);
        assert!(p.is_empty(), "{p:?}");
        l.max_balance = i64::MAX;
        l.max_points_per_call = 0;
        l.max_amount_major = 0;
        l.max_items = 0;
        l.max_quantity = i64::MAX;
        l.validate("l", &mut p);
        assert_eq!(p.len(), 5, "{p:?}");
    }
}
