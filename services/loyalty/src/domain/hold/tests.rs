use super::*;
use crate::domain::fixtures::{customer, lot, program, remaining, t0, wallet};
use crate::domain::lots::{Lot, total};

/// Lots 1..=3: 100 available until day 10, 50 available until day 5, 70 pending.
fn lots() -> Vec<Lot> {
    vec![lot(1, 100, -1, 10), lot(2, 50, -1, 5), lot(3, 70, 3, 20)]
}

fn seconds(s: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(s)
}

/// (case, points, timeout asked, outcome: expiry, lots' remaining after)
type PlaceRow = (
    &'static str,
    i64,
    Option<i64>,
    Result<(DateTime<Utc>, Vec<i64>), Refusal>,
);

#[test]
fn placing_a_hold() {
    let short = Refusal::Insufficient {
        customer: customer(),
        wanted: 151,
        available: 150,
    };
    #[rustfmt::skip]
    let table: Vec<PlaceRow> = vec![
        ("the programme's timeout", 30, None, Ok((seconds(900), vec![100, 20, 70]))),
        ("a shorter timeout", 30, Some(60), Ok((seconds(60), vec![100, 20, 70]))),
        ("a longer timeout is lowered", 30, Some(86_400), Ok((seconds(900), vec![100, 20, 70]))),
        ("across lots, soonest-expiring first", 120, None, Ok((seconds(900), vec![30, 0, 70]))),
        ("everything available", 150, None, Ok((seconds(900), vec![0, 0, 70]))),
        ("pending points cannot be held", 151, None, Err(short)),
        ("zero points", 0, None, Err(Refusal::invalid("points", "must be at least 1"))),
    ];
    for (case, points, timeout, want) in table {
        let mut w = wallet(lots(), 0);
        let got = place(&program(), &mut w, points, "o-1", timeout).map(|(h, t)| {
            let hold = (h.state, h.points, total(&h.lots), h.order_id.as_str());
            assert_eq!(hold, (HoldState::Active, points, points, "o-1"), "{case}");
            let moved = (t.related.clone(), w.wallet.balance, w.wallet.held);
            assert_eq!(moved, (h.name(), 220 - points, points), "{case}");
            (h.expire_time, remaining(&w))
        });
        assert_eq!(got, want, "{case}");
    }
}

/// A wallet with a hold of 120 points for order "o-1" placed on `lots()`.
fn held() -> (WalletState, Hold) {
    let mut w = wallet(lots(), 0);
    let (h, _) = place(&program(), &mut w, 120, "o-1", None).expect("hold");
    (w, h)
}

/// (case, hold state, seconds after t0, points, outcome: captured, lots' remaining after;
/// a refusal's hold name is the case's)
type CaptureRow = (
    &'static str,
    HoldState,
    i64,
    Option<i64>,
    Result<(i64, Vec<i64>), Refusal>,
);

#[test]
fn capturing_a_hold() {
    let not_active = |state| {
        Err(Refusal::HoldNotActive {
            hold: String::new(),
            state,
        })
    };
    let too_many = Err(Refusal::invalid(
        "points",
        "must be at most the 120 points held",
    ));
    use HoldState::*;
    #[rustfmt::skip]
    let table: Vec<CaptureRow> = vec![
        ("all of it", Active, 0, None, Ok((120, vec![30, 0, 70]))),
        ("part: the rest goes back to the latest-expiring lot", Active, 0, Some(100), Ok((100, vec![50, 0, 70]))),
        ("part: back across lots", Active, 0, Some(10), Ok((10, vec![100, 40, 70]))),
        ("exactly what is held", Active, 0, Some(120), Ok((120, vec![30, 0, 70]))),
        ("nothing: all goes back", Active, 0, Some(0), Ok((0, vec![100, 50, 70]))),
        ("more than held", Active, 0, Some(121), too_many.clone()),
        ("a negative amount", Active, 0, Some(-1), too_many),
        ("just before the timeout", Active, 899, None, Ok((120, vec![30, 0, 70]))),
        ("at the timeout", Active, 900, None, not_active("expired")),
        ("captured already", Captured, 0, None, not_active("captured")),
        ("released", Released, 0, None, not_active("released")),
        ("expired by the job", Expired, 0, None, not_active("expired")),
    ];
    for (case, state, later, points, want) in table {
        let (w, mut h) = held();
        let mut w = w.continued(seconds(later));
        h.state = state;
        let got = capture(&program(), &mut w, &mut h, points, None).map(|a| {
            let spent = a.transaction.delta(Account::Redemption);
            assert_eq!(
                (h.state, i128::from(h.captured), w.wallet.held),
                (Captured, spent, 0),
                "{case}"
            );
            let redeemed = a.order.map(|o| o.redeemed).unwrap_or(0);
            assert_eq!(redeemed, h.captured, "{case}: the order's redeemed points");
            assert_eq!(w.wallet.lifetime_redeemed, h.captured, "{case}");
            (h.captured, remaining(&w))
        });
        let want = want.map_err(|r| match r {
            Refusal::HoldNotActive { state, .. } => Refusal::HoldNotActive {
                hold: h.name(),
                state,
            },
            r => r,
        });
        assert_eq!(got, want, "{case}");
    }
}

#[test]
fn releasing_and_expiring_a_hold() {
    let p = program();
    use HoldState::*;
    // (case, hold state, seconds after t0, release refused as, expiry releases it)
    #[rustfmt::skip]
    let table = [
        ("active", Active, 0, None, false),
        ("active until its last second", Active, 899, None, false),
        ("timed out", Active, 900, Some("expired"), true),
        ("long timed out", Active, 86_400, Some("expired"), true),
        ("captured", Captured, 900, Some("captured"), false),
        ("released", Released, 0, Some("released"), false),
        ("expired", Expired, 900, Some("expired"), false),
    ];
    for (case, state, later, refused, expires) in table {
        let (w, mut h) = held();
        h.state = state;
        let (mut released, mut expired) = (
            w.clone().continued(seconds(later)),
            w.continued(seconds(later)),
        );
        let mut h2 = h.clone();
        let got = release(&p, &mut released, &mut h).map(|t| {
            assert_eq!(
                (t.kind, t.reason.as_str(), h.state),
                (TxKind::Release, "released", Released),
                "{case}"
            );
            assert_eq!(
                remaining(&released),
                [100, 50, 70],
                "{case}: every point back in its lot"
            );
        });
        let want = match refused {
            None => Ok(()),
            Some(state) => Err(Refusal::HoldNotActive {
                hold: h.name(),
                state,
            }),
        };
        assert_eq!(got, want, "{case}");
        let t = expire(&p, &mut expired, &mut h2).expect(case);
        assert_eq!(t.is_some(), expires, "{case}");
        if expires {
            let after = (h2.state, expired.wallet.held, expired.wallet.balance);
            assert_eq!(after, (Expired, 0, 220), "{case}");
            assert_eq!(remaining(&expired), [100, 50, 70], "{case}");
        }
    }
}

#[test]
fn giving_back_to_an_emptied_lot_needs_it_loaded() {
    let (w, mut h) = held();
    let mut next = w.clone();
    next.finish(&program()).expect("finish");
    // Lot 2 ran empty and left the state: it is loaded before a release.
    assert_eq!(next.missing_lots(&h.lots), [uuid::Uuid::from_u128(2)]);
    let emptied = w.lots.iter().find(|l| l.id.as_u128() == 2).cloned();
    next.add_loaded(emptied.into_iter().collect());
    assert!(next.missing_lots(&h.lots).is_empty());
    release(&program(), &mut next, &mut h).expect("release");
    assert_eq!(remaining(&next), [100, 70, 50]);
    assert!(
        next.finish(&program()).is_ok(),
        "lots add up to the balance"
    );
}
