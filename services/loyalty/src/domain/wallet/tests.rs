use super::*;
use crate::domain::fixtures::{customer, day, lot, program, t0, wallet};
use crate::domain::ledger::{Account, Posting, TxKind, movement};

fn credit(points: i64) -> Vec<Posting> {
    movement(Account::Issuance, Account::Wallet(customer()), points).to_vec()
}

fn debit(points: i64) -> Vec<Posting> {
    movement(Account::Wallet(customer()), Account::Redemption, points).to_vec()
}

fn to_held(points: i64) -> Vec<Posting> {
    movement(
        Account::Wallet(customer()),
        Account::Held(customer()),
        points,
    )
    .to_vec()
}

/// A wallet with the given balances (the lots are not looked at when posting).
fn balances(balance: i64, held: i64) -> WalletState {
    let mut w = wallet(Vec::new(), 0);
    w.wallet.balance = balance;
    w.wallet.held = held;
    w
}

/// (case, wallet balance, held, postings, outcome: wallet and held after)
type PostRow = (
    &'static str,
    i64,
    i64,
    Vec<Posting>,
    Result<(i64, i64), Refusal>,
);

#[test]
fn posting_keeps_balances_non_negative_and_within_the_limit() {
    let limit = Err(Refusal::BalanceLimit {
        customer: customer(),
        max_balance: 100,
    });
    let unbalanced = vec![Posting {
        account: Account::Wallet(customer()),
        amount: 5,
    }];
    #[rustfmt::skip]
    let table: Vec<PostRow> = vec![
        ("a credit within the limit", 10, 0, credit(50), Ok((60, 0))),
        ("a credit up to the limit", 60, 0, credit(40), Ok((100, 0))),
        ("a credit one beyond the limit", 60, 0, credit(41), limit.clone()),
        ("held points count towards the limit", 50, 50, credit(1), limit.clone()),
        ("moving points to held changes nothing", 60, 40, to_held(60), Ok((0, 100))),
        ("a wallet above a lowered limit still spends", 200, 0, debit(150), Ok((50, 0))),
        ("and still holds", 200, 0, to_held(200), Ok((0, 200))),
        ("but gains nothing", 200, 0, credit(1), limit.clone()),
        ("a debit to zero", 30, 0, debit(30), Ok((0, 0))),
        ("no postings at all", 30, 0, Vec::new(), Ok((30, 0))),
        ("beyond i64 is beyond the limit", i64::MAX, 0, credit(1), limit),
    ];
    for (case, balance, held, postings, want) in table {
        let mut p = program();
        p.limits.max_balance = 100;
        let mut w = balances(balance, held);
        let before = w.wallet.clone();
        let got = w.post(&p, Draft::new(TxKind::Adjust, postings)).map(|t| {
            assert_eq!(
                t.check_link(
                    &before.last_hash,
                    before.sequence,
                    before.balance,
                    before.held
                ),
                Ok(()),
                "{case}"
            );
            assert_eq!(
                (w.wallet.balance, w.wallet.held, w.wallet.sequence),
                (t.wallet_after, t.held_after, 1),
                "{case}"
            );
            (t.wallet_after, t.held_after)
        });
        assert_eq!(got, want, "{case}");
        if got.is_err() {
            assert_eq!(
                w.wallet, before,
                "{case}: a refused posting changes nothing"
            );
        }
    }
    // What the rules never produce is refused as broken, not posted.
    let broken = [
        ("a debit below zero", balances(10, 0), debit(11)),
        ("unbalanced postings", balances(10, 0), unbalanced),
    ];
    for (case, mut w, postings) in broken {
        let got = w.post(&program(), Draft::new(TxKind::Adjust, postings));
        assert!(matches!(got, Err(Refusal::Broken(_))), "{case}: {got:?}");
    }
    let mut w = balances(10, 0);
    w.wallet.sequence = i64::MAX;
    assert_eq!(
        w.post(&program(), Draft::new(TxKind::Adjust, credit(1))),
        Err(Refusal::Overflow("the chain's sequence"))
    );
}

#[test]
fn posts_chain_in_order_and_collect_qualifying_points() {
    let p = program();
    let history_start = p.write_history_from(t0());
    let before_history = history_start - chrono::TimeDelta::microseconds(1);
    // (case, qualifying delta, qualify time, kept in the history)
    #[rustfmt::skip]
    let table = [
        ("now", 40, None, true),
        ("no delta", 0, None, false),
        ("a reversal of an earlier earn", -40, Some(day(-30)), true),
        ("at the start of the kept history", -40, Some(history_start), true),
        ("before the kept history", -40, Some(before_history), false),
    ];
    for (case, delta, when, kept) in table {
        let mut w = wallet(Vec::new(), 0);
        let mut d = Draft::new(TxKind::Earn, credit(40));
        d.qualifying_delta = delta;
        d.qualify_time = when;
        w.post(&p, d).expect(case);
        let expected = vec![(when.unwrap_or(t0()), delta)];
        assert_eq!(w.qualifying == expected, kept, "{case}: {:?}", w.qualifying);
    }
    // Three posts link up from the genesis hash.
    let mut w = wallet(Vec::new(), 0);
    let ts: Vec<_> = (1..=3)
        .map(|n| {
            w.post(&p, Draft::new(TxKind::Earn, credit(n)))
                .expect("post")
        })
        .collect();
    assert_eq!(ts[0].prev_hash, GENESIS);
    assert_eq!(
        (ts[1].prev_hash.as_str(), ts[2].prev_hash.as_str()),
        (ts[0].hash.as_str(), ts[1].hash.as_str())
    );
    assert_eq!(ts.iter().map(|t| t.sequence).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(w.wallet.last_hash, ts[2].hash);
}

#[test]
fn finishing_moves_the_tier_and_returns_what_changed() {
    let p = program();
    let earn = |w: &mut WalletState, points: i64| {
        w.add_lot(points, "", t0(), day(300));
        let mut d = Draft::new(TxKind::Earn, credit(points));
        d.qualifying_delta = points;
        w.post(&p, d).expect("post")
    };
    // (case, stored tier, qualifying points before, points earned, tier change to)
    #[rustfmt::skip]
    let table = [
        ("nothing changes", "regular", 0, 10, None),
        ("up to silver", "regular", 990, 10, Some("silver")),
        ("one short of silver", "regular", 989, 10, None),
        ("straight to gold", "regular", 0, 5_000, Some("gold")),
        ("silver to gold", "silver", 4_999, 1, Some("gold")),
        ("a stored tier the window no longer supports", "gold", 0, 10, Some("regular")),
    ];
    for (case, stored, qualifying, points, to) in table {
        let mut w = wallet(Vec::new(), qualifying);
        w.wallet.tier = stored.into();
        let t = earn(&mut w, points);
        let f = w.finish(&p).expect(case);
        let change = f.tier_change.as_ref().map(|c| {
            assert_eq!(
                (c.from_tier.as_str(), c.transaction.clone(), c.change_time),
                (stored, t.name(), t0()),
                "{case}"
            );
            c.to_tier.as_str()
        });
        assert_eq!(change, to, "{case}");
        assert_eq!(w.wallet.tier, to.unwrap_or(stored), "{case}");
        assert_eq!(f.transactions, vec![t], "{case}");
    }
    // A tier change without a transaction of its own (the window moved on) names none.
    let mut w = wallet(Vec::new(), 0);
    w.wallet.tier = "silver".into();
    let f = w.finish(&p).expect("finish");
    assert_eq!(f.tier_change.map(|c| c.transaction), Some(String::new()));
}

#[test]
fn finishing_saves_touched_lots_and_keeps_live_ones() {
    let p = program();
    let mut w = wallet(
        vec![lot(1, 30, -1, 10), lot(2, 20, -1, 20), lot(3, 5, -1, 30)],
        0,
    );
    let now = w.now;
    w.consume(40, |l| l.is_available(now));
    w.post(&p, Draft::new(TxKind::Redeem, debit(40)))
        .expect("post");
    let f = w.finish(&p).expect("finish");
    let saved: Vec<(u128, i64)> = f
        .lots
        .iter()
        .map(|l| (l.id.as_u128(), l.remaining))
        .collect();
    assert_eq!(
        saved,
        [(1, 0), (2, 10)],
        "the emptied lot is saved, the untouched one is not"
    );
    let live: Vec<u128> = w.lots.iter().map(|l| l.id.as_u128()).collect();
    assert_eq!(live, [2, 3], "emptied lots leave the state");
    // The next write on the state starts with nothing touched and nothing posted.
    let mut next = w.continued(day(1));
    assert_eq!(next.now, day(1));
    assert_eq!(
        next.finish(&p).map(|f| (f.lots, f.transactions)),
        Ok((Vec::new(), Vec::new()))
    );
    assert_eq!(
        wallet(Vec::new(), 0).continued(day(-1)).now,
        t0(),
        "the clock never goes back"
    );
    // Lots that do not add up to the balance are reported, not stored.
    let mut w = wallet(vec![lot(1, 30, -1, 10)], 0);
    w.wallet.balance = 31;
    assert!(matches!(w.finish(&p), Err(Refusal::Broken(_))));
}
