use super::*;
use crate::domain::fixtures::{customer, day, lot, program, remaining, t0, wallet};
use crate::domain::{ItemBonus, Lot};
use chrono::Months;

fn purchase(order_id: &str, amount_minor: i64) -> EarnSource {
    EarnSource::Purchase {
        order_id: order_id.into(),
        currency: "CNY".into(),
        amount_minor,
        lines: Vec::new(),
        purchase_time: None,
    }
}

fn goodwill(points: i64) -> EarnSource {
    EarnSource::Goodwill {
        points,
        reason: "sorry".into(),
        actor: "agent-7".into(),
    }
}

fn earned(points: i64) -> Option<OrderState> {
    Some(OrderState {
        earned: points,
        ..Default::default()
    })
}

fn no_change(_: &mut Program) {}

fn invalid(field: &'static str, why: &str) -> Refusal {
    Refusal::invalid(field, why)
}

fn short(wanted: i64, available: i64) -> Refusal {
    Refusal::Insufficient {
        customer: customer(),
        wanted,
        available,
    }
}

/// What an accepted Earn gives: points, the lot's available and expiry times, the
/// qualifying delta and the transaction's reason.
#[derive(Debug, PartialEq)]
struct Earned {
    points: i64,
    available: DateTime<Utc>,
    expire: DateTime<Utc>,
    qualifying: i64,
    reason: String,
}

fn ok(
    points: i64,
    available: DateTime<Utc>,
    qualifying: i64,
    reason: &str,
) -> Result<Earned, Refusal> {
    Ok(Earned {
        points,
        available,
        expire: t0() + Months::new(24),
        qualifying,
        reason: reason.into(),
    })
}

/// (case, programme change, qualifying points, source, stored order, outcome)
type EarnRow = (
    &'static str,
    fn(&mut Program),
    i64,
    EarnSource,
    Option<OrderState>,
    Result<Earned, Refusal>,
);

#[test]
fn earning_rules() {
    let over_call = "earns more than the 100 points one call may earn";
    let max_call = |p: &mut Program| p.limits.max_points_per_call = 100;
    let pending = |p: &mut Program| p.pending_days = 14;
    let overflowing = |p: &mut Program| {
        p.item_bonuses = vec![ItemBonus {
            item_id_prefix: "spa-".into(),
            multiplier_permille: 100_000,
        }];
        p.points_per_unit = 1_000_000;
        p.minor_units_per_unit = 1;
    };
    let no_awards = |p: &mut Program| p.action_awards.clear();
    let redeemed_only = Some(OrderState {
        redeemed: 5,
        ..Default::default()
    });
    #[rustfmt::skip]
    let table: Vec<EarnRow> = vec![
        ("regular: 1 point per unit, rounded down", no_change, 0, purchase("o", 12_345), None, ok(123, t0(), 123, "purchase")),
        ("just below silver", no_change, 999, purchase("o", 12_345), None, ok(123, t0(), 123, "purchase")),
        ("silver x1.25", no_change, 1_000, purchase("o", 12_345), None, ok(153, t0(), 153, "purchase")),
        ("gold x1.5", no_change, 5_000, purchase("o", 12_345), None, ok(184, t0(), 184, "purchase")),
        ("one whole unit", no_change, 0, purchase("o", 100), None, ok(1, t0(), 1, "purchase")),
        ("less than a unit earns nothing", no_change, 0, purchase("o", 99), None, Err(invalid("source", "earns no points"))),
        ("zero amount", no_change, 0, purchase("o", 0), None, Err(invalid("source", "earns no points"))),
        ("pending days delay availability", pending, 0, purchase("o", 1_000), None, ok(10, day(14), 10, "purchase")),
        ("exactly the call limit", max_call, 0, purchase("o", 10_000), None, ok(100, t0(), 100, "purchase")),
        ("one over the call limit", max_call, 0, purchase("o", 10_100), None, Err(invalid("purchase.amount.amount_minor", over_call))),
        ("the tier multiplier crosses the call limit", max_call, 5_000, purchase("o", 8_000), None, Err(invalid("purchase.amount.amount_minor", over_call))),
        ("an overflowing purchase is over the limit", overflowing, 0, purchase("o", i64::MAX), None, Err(invalid("purchase.amount.amount_minor", "earns more than the 10000000 points one call may earn"))),
        ("an order earns once", no_change, 0, purchase("o", 1_000), earned(10), Err(Refusal::OrderAlreadyEarned("o".into()))),
        ("an order that only redeemed may earn", no_change, 0, purchase("o", 1_000), redeemed_only, ok(10, t0(), 10, "purchase")),
        ("an action's fixed award", no_change, 0, EarnSource::Action("review".into()), None, ok(50, t0(), 50, "review")),
        ("actions ignore the tier multiplier", no_change, 5_000, EarnSource::Action("referral".into()), None, ok(500, t0(), 500, "referral")),
        ("pending days apply to purchases only", pending, 0, EarnSource::Action("review".into()), None, ok(50, t0(), 50, "review")),
        ("an action without an award", no_awards, 0, EarnSource::Action("review".into()), None, Err(invalid("source", "earns no points"))),
        ("goodwill does not qualify", no_change, 0, goodwill(30), None, ok(30, t0(), 0, "sorry")),
        ("goodwill of zero", no_change, 0, goodwill(0), None, Err(invalid("source", "earns no points"))),
        ("negative goodwill", no_change, 0, goodwill(-5), None, Err(invalid("source", "earns no points"))),
    ];
    for (case, tweak, qualifying, source, order, want) in table {
        let mut p = program();
        tweak(&mut p);
        let mut w = wallet(Vec::new(), qualifying);
        let req = EarnRequest {
            customer: customer(),
            source,
            available_time: None,
            expire_time: None,
        };
        let got = earn(&p, &mut w, &req, order.clone()).map(|a| {
            let lot = w.lots.last().expect("a new lot");
            assert_eq!(w.wallet.balance, a.transaction.wallet_after, "{case}");
            assert_eq!(w.wallet.lifetime_earned, lot.amount, "{case}");
            if let EarnSource::Purchase { amount_minor, .. } = &req.source {
                let o = a.order.as_ref().expect("the order's new state");
                let kept = order.as_ref().map(|o| o.redeemed).unwrap_or(0);
                assert_eq!(
                    (o.earned, o.purchase_amount_minor, o.earn_time, o.redeemed),
                    (lot.amount, Some(*amount_minor), Some(t0()), kept),
                    "{case}"
                );
            } else {
                assert_eq!(a.order, None, "{case}");
            }
            Earned {
                points: a.transaction.wallet_delta(),
                available: lot.available_time,
                expire: lot.expire_time,
                qualifying: a.transaction.qualifying_delta,
                reason: a.transaction.reason,
            }
        });
        assert_eq!(got, want, "{case}");
    }
}

/// (case, points in the wallet, lifetime earned, available_time, expire_time, outcome:
/// the lot's available and expiry times)
type TimesRow = (
    &'static str,
    i64,
    i64,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Result<(DateTime<Utc>, DateTime<Utc>), Refusal>,
);

#[test]
fn requested_times_and_wallet_bounds() {
    let policy = t0() + Months::new(24);
    let limit = Refusal::BalanceLimit {
        customer: customer(),
        max_balance: 1_000_000_000,
    };
    #[rustfmt::skip]
    let table: Vec<TimesRow> = vec![
        ("the policy's times", 0, 0, None, None, Ok((t0(), policy))),
        ("available later", 0, 0, Some(day(3)), None, Ok((day(3), policy))),
        ("available in the past counts from now", 0, 0, Some(day(-3)), None, Ok((t0(), policy))),
        ("an expiry of its own", 0, 0, Some(day(1)), Some(day(2)), Ok((day(1), day(2)))),
        ("up to the balance limit", 999_999_950, 0, None, None, Ok((t0(), policy))),
        ("one point beyond the balance limit", 999_999_951, 0, None, None, Err(limit)),
        ("a lifetime counter at its end", 0, i64::MAX - 49, None, None, Err(Refusal::Overflow("lifetime earned points"))),
    ];
    for (case, points, lifetime, available_time, expire_time, want) in table {
        let mut w = wallet(vec![lot(1, points, -1, 300)], 0);
        w.wallet.lifetime_earned = lifetime;
        let req = EarnRequest {
            customer: customer(),
            source: EarnSource::Action("review".into()),
            available_time,
            expire_time,
        };
        let got = earn(&program(), &mut w, &req, None).map(|_| {
            let lot = w.lots.last().expect("lot");
            (lot.available_time, lot.expire_time)
        });
        assert_eq!(got, want, "{case}");
    }
}

/// Lots 1..=4: 100 available until day 10, 50 available until day 5, 70 pending until
/// day 3 (expiring day 4), 40 due since yesterday.
fn mixed_lots() -> Vec<Lot> {
    vec![
        lot(1, 100, -1, 10),
        lot(2, 50, -1, 5),
        lot(3, 70, 3, 4),
        lot(4, 40, -5, -1),
    ]
}

fn redeem_of(points: i64, up_to_available: bool, order_id: &str) -> Redeem {
    Redeem {
        customer: customer(),
        points,
        up_to_available,
        order_id: order_id.into(),
        description: "tea".into(),
    }
}

/// (case, lots, points, up_to_available, outcome: points redeemed, lots' remaining after)
type RedeemRow = (
    &'static str,
    Vec<Lot>,
    i64,
    bool,
    Result<(i64, Vec<i64>), Refusal>,
);

#[test]
fn redeeming_spends_available_points_soonest_expiring_first() {
    let positive = invalid("points", "must be at least 1");
    #[rustfmt::skip]
    let table: Vec<RedeemRow> = vec![
        ("from the soonest-expiring lot", mixed_lots(), 30, false, Ok((30, vec![100, 20, 70, 40]))),
        ("a whole lot", mixed_lots(), 50, false, Ok((50, vec![100, 0, 70, 40]))),
        ("across lots", mixed_lots(), 120, false, Ok((120, vec![30, 0, 70, 40]))),
        ("everything available", mixed_lots(), 150, false, Ok((150, vec![0, 0, 70, 40]))),
        ("pending and due points are not available", mixed_lots(), 151, false, Err(short(151, 150))),
        ("up to available takes what there is", mixed_lots(), 151, true, Ok((150, vec![0, 0, 70, 40]))),
        ("up to available, enough there", mixed_lots(), 10, true, Ok((10, vec![100, 40, 70, 40]))),
        ("up to available with nothing available", vec![lot(3, 70, 3, 4)], 5, true, Err(short(5, 0))),
        ("an empty wallet", Vec::new(), 1, false, Err(short(1, 0))),
        ("zero points", mixed_lots(), 0, false, Err(positive.clone())),
        ("negative points", mixed_lots(), -3, true, Err(positive)),
        ("a lot expiring now is due, not available", vec![lot(1, 10, -1, 0)], 1, false, Err(short(1, 0))),
        ("a lot available now is available", vec![lot(1, 10, 0, 9)], 10, false, Ok((10, vec![0]))),
    ];
    for (case, lots, points, up_to, want) in table {
        let mut w = wallet(lots, 0);
        let got = redeem(&program(), &mut w, &redeem_of(points, up_to, ""), None).map(|a| {
            assert_eq!(a.order, None, "{case}: no order");
            let spent = -a.transaction.wallet_delta();
            assert_eq!(w.wallet.lifetime_redeemed, spent, "{case}");
            (spent, remaining(&w))
        });
        assert_eq!(got, want, "{case}");
    }
}

/// (case, order id, stored order, lifetime redeemed, outcome: the order's redeemed after)
type OrderRow = (
    &'static str,
    &'static str,
    Option<OrderState>,
    i64,
    Result<Option<i64>, Refusal>,
);

#[test]
fn redemptions_are_recorded_against_their_order() {
    let stored = |redeemed| {
        Some(OrderState {
            redeemed,
            ..Default::default()
        })
    };
    #[rustfmt::skip]
    let table: Vec<OrderRow> = vec![
        ("no order", "", None, 0, Ok(None)),
        ("a new order", "o-1", None, 0, Ok(Some(30))),
        ("adds to what the order redeemed", "o-1", stored(5), 0, Ok(Some(35))),
        ("the order's total at its end", "o-1", stored(i64::MAX - 29), 0, Err(Refusal::Overflow("the order's redeemed points"))),
        ("the lifetime counter at its end", "o-1", None, i64::MAX - 29, Err(Refusal::Overflow("lifetime redeemed points"))),
    ];
    for (case, order_id, order, lifetime, want) in table {
        let mut w = wallet(mixed_lots(), 0);
        w.wallet.lifetime_redeemed = lifetime;
        let got = redeem(&program(), &mut w, &redeem_of(30, false, order_id), order)
            .map(|a| a.order.map(|o| o.redeemed));
        assert_eq!(got, want, "{case}");
    }
}

/// (case, lots, points, lifetime earned, outcome: wallet delta, lots' remaining after)
type AdjustRow = (
    &'static str,
    Vec<Lot>,
    i64,
    i64,
    Result<(i64, Vec<i64>), Refusal>,
);

#[test]
fn adjustments_add_a_lot_or_take_available_points() {
    let big = || vec![lot(1, 999_999_000, 0, 9)];
    let limit = Refusal::BalanceLimit {
        customer: customer(),
        max_balance: 1_000_000_000,
    };
    #[rustfmt::skip]
    let table: Vec<AdjustRow> = vec![
        ("a credit is a new lot", mixed_lots(), 25, 0, Ok((25, vec![100, 50, 70, 40, 25]))),
        ("a debit takes the soonest-expiring first", mixed_lots(), -60, 0, Ok((-60, vec![90, 0, 70, 40]))),
        ("a debit of everything available", mixed_lots(), -150, 0, Ok((-150, vec![0, 0, 70, 40]))),
        ("never more than available", mixed_lots(), -151, 0, Err(short(151, 150))),
        ("pending points are not taken", vec![lot(3, 70, 3, 4)], -1, 0, Err(short(1, 0))),
        ("the smallest number has no negation", mixed_lots(), i64::MIN, 0, Err(short(i64::MAX, 150))),
        ("zero", mixed_lots(), 0, 0, Err(invalid("points", "must not be 0"))),
        ("a credit up to the balance limit", big(), 1_000, 0, Ok((1_000, vec![999_999_000, 1_000]))),
        ("a credit beyond the balance limit", big(), 1_001, 0, Err(limit)),
        ("a credit with the lifetime counter at its end", Vec::new(), 1, i64::MAX, Err(Refusal::Overflow("lifetime earned points"))),
    ];
    for (case, lots, points, lifetime, want) in table {
        let mut w = wallet(lots, 0);
        w.wallet.lifetime_earned = lifetime;
        let a = Adjust {
            customer: customer(),
            points,
            reason: "fix".into(),
            actor: "ops".into(),
        };
        let got = adjust(&program(), &mut w, &a).map(|t| {
            let said = (t.reason.as_str(), t.actor.as_str(), t.qualifying_delta);
            assert_eq!(said, ("fix", "ops", 0), "{case}");
            if points > 0 {
                let l = w.lots.last().expect("the new lot");
                assert_eq!(
                    (l.available_time, l.expire_time),
                    (t0(), t0() + Months::new(24)),
                    "{case}"
                );
            }
            (t.wallet_delta(), remaining(&w))
        });
        assert_eq!(got, want, "{case}");
    }
}
