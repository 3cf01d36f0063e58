//! Purchases earned as of their purchase time, and re-rating after a back-dated one.
use super::*;
use crate::domain::balance::tier_status;
use crate::domain::fixtures::{customer, day, program, t0, wallet};
use chrono::{Months, TimeDelta};
use std::collections::HashMap;

fn purchase_at(order_id: &str, amount_minor: i64, at: Option<DateTime<Utc>>) -> EarnRequest {
    EarnRequest {
        customer: customer(),
        source: EarnSource::Purchase {
            order_id: order_id.into(),
            currency: "CNY".into(),
            amount_minor,
            lines: Vec::new(),
            purchase_time: at,
        },
        available_time: None,
        expire_time: None,
    }
}

fn us(n: i64) -> TimeDelta {
    TimeDelta::microseconds(n)
}

/// What an accepted purchase gives: points, the lot's available and expiry times, and the
/// time the points qualify at.
#[derive(Debug, PartialEq)]
struct AsOf {
    points: i64,
    available: DateTime<Utc>,
    expire: DateTime<Utc>,
    qualify_time: DateTime<Utc>,
}

fn ok(points: i64, at: DateTime<Utc>) -> Result<AsOf, Refusal> {
    Ok(AsOf {
        points,
        available: at,
        expire: at + Months::new(24),
        qualify_time: at,
    })
}

/// (case, programme change, qualifying history (time, points), purchase time, outcome)
type AsOfRow = (
    &'static str,
    fn(&mut Program),
    Vec<(DateTime<Utc>, i64)>,
    Option<DateTime<Utc>>,
    Result<AsOf, Refusal>,
);

#[test]
fn purchases_earn_as_of_their_purchase_time() {
    let no_change = |_: &mut Program| {};
    let pending = |p: &mut Program| p.pending_days = 14;
    let silver = vec![(day(-200), 1_000)];
    let gold = vec![(day(-100), 5_000)];
    let old_silver = vec![(day(-390), 1_000)];
    let too_old = "must be at most 400 days ago (loyalty.program.max_backdate_days)";
    let invalid = |why: &str| Err(Refusal::invalid("purchase.purchase_time", why));
    #[rustfmt::skip]
    let table: Vec<AsOfRow> = vec![
        ("no purchase time: now, in the window", no_change, silver.clone(), None, ok(153, t0())),
        ("before the qualifying points: regular", no_change, silver.clone(), Some(day(-201)), ok(123, day(-201))),
        ("at their instant: not counted yet", no_change, silver.clone(), Some(day(-200)), ok(123, day(-200))),
        ("just after them: silver x1.25", no_change, silver.clone(), Some(day(-200) + us(1)), ok(153, day(-200) + us(1))),
        ("gold x1.5 at the time", no_change, gold.clone(), Some(day(-50)), ok(184, day(-50))),
        ("gold not reached yet", no_change, gold, Some(day(-101)), ok(123, day(-101))),
        ("the window's first day counts them", no_change, old_silver.clone(), Some(day(-25)), ok(153, day(-25))),
        ("the window has passed them", no_change, old_silver, Some(day(-25) + us(1)), ok(123, day(-25) + us(1))),
        ("pending from the purchase time", pending, Vec::new(), Some(day(-10)), Ok(AsOf { points: 123, available: day(4), expire: day(-10) + Months::new(24), qualify_time: day(-10) })),
        ("at the back-dating limit", no_change, Vec::new(), Some(day(-400)), ok(123, day(-400))),
        ("past the back-dating limit", no_change, Vec::new(), Some(day(-400) - us(1)), invalid(too_old)),
        ("a 1997 order", no_change, Vec::new(), Some(t0() - Months::new(29 * 12)), invalid(too_old)),
        ("ahead within the clock skew: now", no_change, Vec::new(), Some(t0() + TimeDelta::minutes(5)), ok(123, t0())),
        ("in the future", no_change, Vec::new(), Some(t0() + TimeDelta::minutes(5) + us(1)), invalid("must not be in the future")),
    ];
    for (case, tweak, history, at, want) in table {
        let mut p = program();
        tweak(&mut p);
        let mut w = wallet(Vec::new(), 0);
        w.qualifying = history;
        let got = earn(&p, &mut w, &purchase_at("o", 12_345, at), None).map(|a| {
            let lot = w.lots.last().expect("a new lot");
            let o = a.order.expect("the order's state");
            assert_eq!(
                (o.earn_time, o.base_points, o.earned),
                (Some(a.transaction.qualify_time), Some(123), lot.amount),
                "{case}"
            );
            AsOf {
                points: a.transaction.wallet_delta(),
                available: lot.available_time,
                expire: lot.expire_time,
                qualify_time: a.transaction.qualify_time,
            }
        });
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn points_expired_before_they_are_earned_are_earned_and_due() {
    let mut p = program();
    p.expire_after_months = 12;
    let mut w = wallet(Vec::new(), 0);
    let a = earn(&p, &mut w, &purchase_at("o", 12_345, Some(day(-390))), None).expect("earned");
    assert_eq!(a.transaction.wallet_after, 123, "the ledger keeps the earn");
    let lot = w.lots.last().expect("a lot");
    assert!(lot.is_due(t0()), "{lot:?}");
    assert_eq!(w.available(), 0);
    w.finish(&p).expect("balance equals lots");
}

/// Earns each purchase (day, amount) on one wallet at `t0` as the service does: a
/// back-dated one re-rates the wallet's later ones. Returns the balance, lifetime earned,
/// tier, today's qualifying points and each order's points.
fn load(purchases: &[(i64, i64)]) -> (i64, i64, String, i64, Vec<(String, i64)>) {
    let p = program();
    let mut w = wallet(Vec::new(), 0);
    let mut orders: HashMap<String, OrderState> = HashMap::new();
    for &(d, amount) in purchases {
        let id = format!("day{d}");
        let a = earn(&p, &mut w, &purchase_at(&id, amount, Some(day(d))), None).expect(&id);
        let at = a.transaction.qualify_time;
        orders.insert(id, a.order.expect("order"));
        let later = orders
            .iter()
            .filter(|(_, o)| o.earn_time > Some(at))
            .map(|(k, o)| (k.clone(), o.clone()))
            .collect();
        for (k, o) in rerate_later(&p, &mut w, later).expect("re-rated") {
            orders.insert(k, o);
        }
        w.finish(&p).expect("balance equals lots");
    }
    let mut earned: Vec<_> = orders.into_iter().map(|(k, o)| (k, o.earned)).collect();
    earned.sort();
    let status = tier_status(&p, &w.qualifying, t0());
    (
        w.wallet.balance,
        w.wallet.lifetime_earned,
        w.wallet.tier.clone(),
        status.qualifying_points,
        earned,
    )
}

#[test]
fn a_year_of_orders_in_any_order_earns_as_in_time_order() {
    // 300 points a month for a year, and one more 390 days ago (out of today's window).
    let mut in_order = vec![(-390, 30_000)];
    in_order.extend((0..12).map(|k| (-330 + 30 * k, 30_000)));
    let reversed: Vec<_> = in_order.iter().rev().copied().collect();
    let interleaved: Vec<_> = in_order
        .iter()
        .skip(1)
        .step_by(2)
        .chain(in_order.iter().step_by(2))
        .copied()
        .collect();
    let want = load(&in_order);
    // By hand: the 1,000 silver threshold is reached before the 5th purchase (4 x 300), so
    // the other 9 earn 375; today's window leaves out the one 390 days ago.
    assert_eq!(
        (want.0, want.1, want.2.as_str(), want.3),
        (
            4 * 300 + 9 * 375,
            4 * 300 + 9 * 375,
            "silver",
            3 * 300 + 9 * 375
        )
    );
    assert_eq!(load(&reversed), want, "newest first");
    assert_eq!(load(&interleaved), want, "interleaved");
}

#[test]
fn re_rating_tops_up_and_leaves_reversed_orders() {
    let p = program();
    let mut w = wallet(Vec::new(), 0);
    w.qualifying = vec![(day(-20), 1_000)];
    let later = |earned, clawed_back| OrderState {
        earned,
        clawed_back,
        base_points: Some(100),
        earn_time: Some(day(-10)),
        ..Default::default()
    };
    let rerated = rerate_later(
        &p,
        &mut w,
        vec![
            ("silver".into(), later(100, 0)),
            ("rated".into(), later(125, 0)),
            ("refunded".into(), later(100, 10)),
            ("not a purchase".into(), OrderState::default()),
        ],
    )
    .expect("re-rated");
    assert_eq!(rerated.len(), 1, "{rerated:?}");
    assert_eq!(
        (rerated[0].0.as_str(), rerated[0].1.earned),
        ("silver", 125)
    );
    let lot = w.lots.last().expect("the top-up lot");
    assert_eq!(
        (lot.amount, lot.order_id.as_str(), lot.expire_time),
        (25, "silver", day(-10) + Months::new(24))
    );
    assert_eq!(w.qualifying.last(), Some(&(day(-10), 25)));
}
