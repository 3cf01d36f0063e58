//! Reversal of an order (refund or cancellation): how many earned points to claw back and
//! how many redeemed points to restore, cumulative over partial refunds.
use serde::{Deserialize, Serialize};

/// What the ledger knows about one order of one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderState {
    /// The purchase amount in minor units, when the order earned points from a purchase.
    pub purchase_amount_minor: Option<i64>,
    pub currency: String,
    pub earned: i64,
    pub refunded_minor: i64,
    pub clawed_back: i64,
    pub shortfall: i64,
    pub redeemed: i64,
    pub restored: i64,
    pub fully_reversed: bool,
    /// When the order earned (reversals reduce tier qualification at this time).
    pub earn_time: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReversePlan {
    /// Earned points to take back now (some may turn out to be spent: shortfall).
    pub claw_back: i64,
    /// Redeemed points to give back now.
    pub restore: i64,
    pub refunded_minor: i64,
    pub fully_reversed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReverseError {
    #[error("the order earned and redeemed nothing")]
    UnknownOrder,
    #[error("the order was already fully reversed")]
    AlreadyReversed,
    #[error("a partial refund needs the order's purchase amount (earn it as a purchase)")]
    AmountUnknown,
    #[error("refund currency {0} differs from the purchase currency {1}")]
    CurrencyMismatch(String, String),
}

fn share(total: i64, num: i64, den: i64) -> i64 {
    if den <= 0 {
        return total;
    }
    i64::try_from(i128::from(total) * i128::from(num) / i128::from(den)).unwrap_or(total)
}

/// Plans a reversal. `refund`: (currency, amount_minor) of this refund; `None` reverses the
/// whole order. Amounts are cumulative: the order is reversed in the proportion of
/// everything refunded so far, minus what earlier reversals already did.
pub fn plan(o: &OrderState, refund: Option<(&str, i64)>) -> Result<ReversePlan, ReverseError> {
    if o.earned == 0 && o.redeemed == 0 {
        return Err(ReverseError::UnknownOrder);
    }
    if o.fully_reversed {
        return Err(ReverseError::AlreadyReversed);
    }
    let (refunded, amount) = match (refund, o.purchase_amount_minor) {
        (None, Some(a)) => (a, a),
        (None, None) => (1, 1),
        (Some(_), None) => return Err(ReverseError::AmountUnknown),
        (Some((cur, r)), Some(a)) => {
            if cur != o.currency {
                return Err(ReverseError::CurrencyMismatch(
                    cur.into(),
                    o.currency.clone(),
                ));
            }
            // Exact: a sum beyond i64 is beyond `a` as well.
            (o.refunded_minor.saturating_add(r).min(a), a)
        }
    };
    let claw_target = share(o.earned, refunded, amount);
    let restore_target = share(o.redeemed, refunded, amount);
    // Exact for the non-negative amounts the ledger stores: a saturated sum of what was done
    // already is beyond the target, so nothing is left to do.
    let done = o.clawed_back.saturating_add(o.shortfall);
    Ok(ReversePlan {
        claw_back: claw_target.saturating_sub(done).max(0),
        restore: restore_target.saturating_sub(o.restored).max(0),
        refunded_minor: if o.purchase_amount_minor.is_some() {
            refunded
        } else {
            0
        },
        fully_reversed: refunded >= amount,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> OrderState {
        OrderState {
            purchase_amount_minor: Some(10_000),
            currency: "CNY".into(),
            earned: 150,
            redeemed: 40,
            ..Default::default()
        }
    }

    #[test]
    fn full_reversal_takes_everything_back() {
        let p = plan(&order(), None).expect("plan");
        assert_eq!((p.claw_back, p.restore, p.fully_reversed), (150, 40, true));
    }

    #[test]
    fn partial_refunds_are_cumulative() {
        let mut o = order();
        let p = plan(&o, Some(("CNY", 2_500))).expect("quarter");
        assert_eq!((p.claw_back, p.restore, p.fully_reversed), (37, 10, false));
        o.refunded_minor = p.refunded_minor;
        o.clawed_back = 30;
        o.shortfall = 7;
        o.restored = 10;
        let p = plan(&o, Some(("CNY", 7_500))).expect("rest");
        assert_eq!((p.claw_back, p.restore, p.fully_reversed), (113, 30, true));
        o.fully_reversed = true;
        assert_eq!(plan(&o, None), Err(ReverseError::AlreadyReversed));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            plan(&OrderState::default(), None),
            Err(ReverseError::UnknownOrder)
        );
        let mut o = order();
        o.purchase_amount_minor = None;
        assert_eq!(plan(&o, Some(("CNY", 1))), Err(ReverseError::AmountUnknown));
        assert!(matches!(
            plan(&order(), Some(("USD", 1))),
            Err(ReverseError::CurrencyMismatch(..))
        ));
        let over = plan(&order(), Some(("CNY", 99_999))).expect("capped");
        assert_eq!(over.claw_back, 150);
    }

    #[test]
    fn extreme_amounts_never_overflow() {
        let mut o = order();
        o.refunded_minor = 5_000;
        let p = plan(&o, Some(("CNY", i64::MAX))).expect("capped at the amount");
        assert_eq!((p.refunded_minor, p.fully_reversed), (10_000, true));
        o.purchase_amount_minor = Some(i64::MAX);
        o.earned = i64::MAX;
        o.redeemed = i64::MAX;
        o.refunded_minor = i64::MAX - 1;
        o.clawed_back = i64::MAX;
        o.shortfall = i64::MAX;
        let p = plan(&o, Some(("CNY", i64::MAX))).expect("plan");
        assert_eq!(
            (p.claw_back, p.restore, p.fully_reversed),
            (0, i64::MAX, true)
        );
    }
}
