//! Reversal of an order (refund or cancellation): how many earned points to claw back and
//! how many redeemed points to restore, cumulative over partial refunds, and how the
//! wallet gives them.
use super::Program;
use super::chain::{Draft, Transaction};
use super::ledger::{Account, TxKind, movement};
use super::lots::total;
use super::refusal::{Refusal, add_to};
use super::wallet::WalletState;
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
    /// The purchase time the order earned as of (reversals reduce tier qualification at
    /// this time).
    pub earn_time: Option<chrono::DateTime<chrono::Utc>>,
    /// A purchase's points before the tier multiplier, to re-rate it when an earlier
    /// purchase arrives after it.
    pub base_points: Option<i64>,
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

/// The state of order `order_id` (`order` as stored) after `points` more were redeemed
/// against it, so a reversal can restore them; `None` when there is nothing to record.
pub fn redeemed_on_order(
    order_id: &str,
    order: Option<OrderState>,
    points: i64,
) -> Result<Option<OrderState>, Refusal> {
    if order_id.is_empty() || points == 0 {
        return Ok(None);
    }
    let mut o = order.unwrap_or_default();
    add_to(&mut o.redeemed, points, "the order's redeemed points")?;
    Ok(Some(o))
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

/// What a reversal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reversed {
    pub transaction: Transaction,
    pub clawed_back: i64,
    pub shortfall: i64,
    pub restored: i64,
    /// The order's new state (to be saved).
    pub order: OrderState,
}

/// Reverses `order_id` (`order` as stored) on `w` as [`plan`] says: restores redeemed points
/// as a new lot, claws earned points back from the order's own lots first, then from other
/// available points FEFO, and records what it could not take as shortfall (and as `owed`),
/// never driving available below zero. The tier qualification drops at the earn time.
pub fn reverse(
    p: &Program,
    w: &mut WalletState,
    order_id: &str,
    mut order: OrderState,
    refund: Option<(&str, i64)>,
    reason: &str,
) -> Result<Reversed, Refusal> {
    let plan = plan(&order, refund).map_err(|error| Refusal::Reverse {
        order_id: order_id.to_owned(),
        error,
    })?;
    let now = w.now;
    let c = w.customer();
    let mut postings = Vec::new();
    if plan.restore > 0 {
        w.add_lot(plan.restore, order_id, now, p.expiry_of(now));
        postings.extend(movement(
            Account::Redemption,
            Account::Wallet(c),
            plan.restore,
        ));
    }
    let mut taken = w.consume(plan.claw_back, |l| l.order_id == order_id);
    let rest = plan.claw_back - total(&taken);
    taken.extend(w.consume(rest, |l| l.is_available(now)));
    let clawed = total(&taken);
    let shortfall = plan.claw_back - clawed;
    postings.extend(movement(Account::Wallet(c), Account::Issuance, clawed));
    let mut d = Draft::new(TxKind::Reverse, postings);
    d.order_id = order_id.to_owned();
    d.reason = reason.to_owned();
    d.shortfall = shortfall;
    d.qualifying_delta = -plan.claw_back;
    d.qualify_time = order.earn_time;
    let transaction = w.post(p, d)?;
    let wallet = &mut w.wallet;
    add_to(
        &mut wallet.lifetime_earned,
        -clawed,
        "lifetime earned points",
    )?;
    add_to(
        &mut wallet.lifetime_redeemed,
        -plan.restore,
        "lifetime redeemed points",
    )?;
    add_to(&mut wallet.owed, shortfall, "owed points")?;
    order.refunded_minor = plan.refunded_minor;
    add_to(
        &mut order.clawed_back,
        clawed,
        "the order's clawed-back points",
    )?;
    add_to(&mut order.shortfall, shortfall, "the order's shortfall")?;
    add_to(
        &mut order.restored,
        plan.restore,
        "the order's restored points",
    )?;
    order.fully_reversed = plan.fully_reversed;
    Ok(Reversed {
        transaction,
        clawed_back: clawed,
        shortfall,
        restored: plan.restore,
        order,
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

    /// A wallet whose order "o" earned 150 points as lot 1 (of which `own` are left) and
    /// redeemed 40; lot 2 holds `other` available points of another order.
    fn wallet_after_order(own: i64, other: i64) -> WalletState {
        use crate::domain::fixtures::{lot, wallet};
        let mut earned = lot(1, 150, -1, 300);
        earned.order_id = "o".into();
        earned.remaining = own;
        let mut lots = vec![earned];
        if other > 0 {
            lots.push(lot(2, other, -1, 100));
        }
        wallet(lots, 150)
    }

    /// (case, points left in the order's lot, other available points, order, refund,
    /// outcome: clawed back, shortfall, restored, lots' remaining after)
    type ReverseRow = (
        &'static str,
        i64,
        i64,
        OrderState,
        Option<(&'static str, i64)>,
        Result<(i64, i64, i64, Vec<i64>), Refusal>,
    );

    #[test]
    fn reversing_claws_back_from_the_order_first_and_records_the_rest_as_owed() {
        use crate::domain::fixtures::{program, remaining};
        let earned_only = || OrderState {
            redeemed: 0,
            ..order()
        };
        let unknown = Refusal::Reverse {
            order_id: "o".into(),
            error: ReverseError::UnknownOrder,
        };
        let currency = ReverseError::CurrencyMismatch("USD".into(), "CNY".into());
        let mismatch = Refusal::Reverse {
            order_id: "o".into(),
            error: currency,
        };
        #[rustfmt::skip]
        let table: Vec<ReverseRow> = vec![
            ("the order's own lot", 150, 0, earned_only(), None, Ok((150, 0, 0, vec![0]))),
            ("then other available points", 100, 80, earned_only(), None, Ok((150, 0, 0, vec![0, 30]))),
            ("what is spent is owed", 100, 20, earned_only(), None, Ok((120, 30, 0, vec![0, 0]))),
            ("nothing left: all owed", 0, 0, earned_only(), None, Ok((0, 150, 0, vec![0]))),
            ("a quarter refunded", 150, 0, earned_only(), Some(("CNY", 2_500)), Ok((37, 0, 0, vec![113]))),
            ("restored points are clawed back before any is owed", 0, 0, order(), None, Ok((40, 110, 40, vec![0, 0]))),
            ("redeemed points restored, earned taken from the order's lot", 150, 0, order(), None, Ok((150, 0, 40, vec![0, 40]))),
            ("an unknown order", 150, 0, OrderState::default(), None, Err(unknown)),
            ("another currency", 150, 0, earned_only(), Some(("USD", 1)), Err(mismatch)),
        ];
        for (case, own, other, o, refund, want) in table {
            let mut w = wallet_after_order(own, other);
            let balance = w.wallet.balance;
            let got = reverse(&program(), &mut w, "o", o.clone(), refund, "refund").map(|r| {
                assert_eq!(
                    r.transaction.wallet_delta(),
                    r.restored - r.clawed_back,
                    "{case}"
                );
                assert_eq!(
                    w.wallet.balance,
                    balance + r.restored - r.clawed_back,
                    "{case}"
                );
                assert_eq!(
                    (
                        w.wallet.owed,
                        r.order.shortfall,
                        r.order.clawed_back,
                        r.order.restored
                    ),
                    (r.shortfall, r.shortfall, r.clawed_back, r.restored),
                    "{case}"
                );
                assert_eq!(
                    r.transaction.qualifying_delta,
                    -(r.clawed_back + r.shortfall),
                    "{case}"
                );
                assert_eq!(
                    r.transaction.qualify_time,
                    o.earn_time.unwrap_or(w.now),
                    "{case}"
                );
                (r.clawed_back, r.shortfall, r.restored, remaining(&w))
            });
            assert_eq!(got, want, "{case}");
        }
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
