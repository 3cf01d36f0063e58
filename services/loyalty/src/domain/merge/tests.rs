use super::*;
use crate::domain::chain::GENESIS;
use crate::domain::fixtures::{customer, day, other_customer, program, t0};
use crate::domain::ledger::movement;
use crate::domain::wallet::WalletState;

/// A wallet of `c` whose chain earned `earned` (qualifying at `day(-1)`) then held `held`
/// of them: (wallet row, its chain).
fn chained(c: CustomerId, earned: i64, held: i64) -> (Wallet, Vec<Transaction>) {
    let p = program();
    let mut w = WalletState::new(
        Wallet::empty(c, p.base_tier()),
        Vec::new(),
        Vec::new(),
        t0(),
    );
    let mut chain = Vec::new();
    let mut earn = Draft::new(
        TxKind::Earn,
        movement(Account::Issuance, Account::Wallet(c), earned),
    );
    earn.qualifying_delta = earned;
    earn.qualify_time = Some(day(-1));
    chain.push(w.post(&p, earn).expect("earn"));
    if held > 0 {
        let hold = Draft::new(
            TxKind::Hold,
            movement(Account::Wallet(c), Account::Held(c), held),
        );
        chain.push(w.post(&p, hold).expect("hold"));
    }
    w.wallet.lifetime_earned = earned;
    (w.wallet, chain)
}

/// Checks `chain` link by link from the genesis; the last (hash, sequence, wallet, held).
fn verify(chain: &[Transaction]) -> (String, i64, i64, i64) {
    let (mut h, mut s, mut b, mut held) = (GENESIS.to_owned(), 0, 0, 0);
    for t in chain {
        assert_eq!(t.check_link(&h, s, b, held), Ok(()), "{t:?}");
        (h, s, b, held) = (t.hash.clone(), t.sequence, t.wallet_after, t.held_after);
    }
    (h, s, b, held)
}

#[test]
fn a_move_sums_the_wallets_and_keeps_both_chains_valid() {
    let (mut survivor, mut s_chain) = chained(customer(), 300, 20);
    let (mut loser, mut l_chain) = chained(other_customer(), 200, 50);
    let moved = move_wallet(&mut survivor, &mut loser, (150, 50), t0()).expect("move");
    assert_eq!((survivor.balance, survivor.held), (280 + 150, 20 + 50));
    assert_eq!((loser.balance, loser.held), (0, 0));
    assert_eq!(loser.merged_into, Some(customer()));
    assert_eq!((survivor.lifetime_earned, loser.lifetime_earned), (500, 0));
    assert_eq!(moved.out.related, moved.into.name());
    assert_eq!(moved.into.related, moved.out.name());
    // The clearing account nets to zero over the pair.
    let merges = moved.out.delta(Account::Merges) + moved.into.delta(Account::Merges);
    assert_eq!(merges, 0);
    l_chain.push(moved.out);
    s_chain.push(moved.into);
    let (h, s, b, held) = verify(&l_chain);
    assert_eq!(
        (h, s, b, held),
        (loser.last_hash.clone(), loser.sequence, 0, 0)
    );
    let (h, s, b, held) = verify(&s_chain);
    assert_eq!((h, s), (survivor.last_hash.clone(), survivor.sequence));
    assert_eq!((b, held), (survivor.balance, survivor.held));
}

#[test]
fn a_move_refuses_what_does_not_add_up() {
    let (mut survivor, _) = chained(customer(), 300, 0);
    let (mut loser, _) = chained(other_customer(), 200, 0);
    let before = (survivor.clone(), loser.clone());
    // Lots that do not hold the loser's balance.
    let r = move_wallet(&mut survivor, &mut loser, (199, 0), t0());
    assert!(matches!(r, Err(Refusal::Broken(_))), "{r:?}");
    // A survivor whose balance cannot take the loser's points.
    survivor.balance = i64::MAX - 100;
    let r = move_wallet(&mut survivor, &mut loser, (200, 0), t0());
    assert_eq!(r, Err(Refusal::Overflow("the wallet's balance")));
    survivor.balance = before.0.balance;
    // Into itself, or out of a closed wallet.
    let mut same = survivor.clone();
    assert!(move_wallet(&mut survivor, &mut same, (300, 0), t0()).is_err());
    loser.merged_into = Some(customer());
    assert!(move_wallet(&mut survivor, &mut loser, (200, 0), t0()).is_err());
}

#[test]
fn steps_by_the_locked_row() {
    let (s, l) = (customer(), other_customer());
    let fresh = Wallet::empty(l, "regular");
    let (chained_loser, _) = chained(l, 10, 0);
    let mut merged = chained_loser.clone();
    merged.merged_into = Some(s);
    let mut elsewhere = chained_loser.clone();
    elsewhere.merged_into = Some(CustomerId(Uuid::from_u128(0xc3)));
    #[rustfmt::skip]
    let table = [
        ("a loser with a chain moves", &chained_loser, LoserStep::Move),
        ("a loser without one closes", &fresh, LoserStep::Close),
        ("the same merge again does nothing", &merged, LoserStep::AlreadyMerged(s)),
        ("merged elsewhere does nothing", &elsewhere, LoserStep::AlreadyMerged(CustomerId(Uuid::from_u128(0xc3)))),
    ];
    for (case, w, want) in table {
        assert_eq!(step(s, w), want, "{case}");
    }
    assert_eq!(step(l, &chained_loser), LoserStep::Survivor);
}

#[test]
fn carried_history_rates_the_survivor_on_both() {
    let p = program();
    let (mut survivor, mut chain) = chained(customer(), 600, 0);
    assert_eq!(survivor.tier, "regular");
    let history = [(day(-30), 300), (day(-10), 200), (day(-5), -50)];
    let carried = carry_qualifying(&mut survivor, &history, "x", t0()).expect("carry");
    assert_eq!(carried.len(), 3);
    assert!(
        carried
            .iter()
            .all(|t| t.postings.is_empty() && t.related == "x")
    );
    let dated: Vec<_> = carried
        .iter()
        .map(|t| (t.qualify_time, t.qualifying_delta))
        .collect();
    assert_eq!(dated, history, "dated as they were");
    chain.extend(carried);
    verify(&chain);
    let mut qualifying = vec![(day(-1), 600)];
    qualifying.extend(history);
    // Carried points outside the window do not count.
    qualifying.push((day(-400), 5_000));
    let points = crate::domain::program::qualifying_points(&qualifying, p.window_start(t0()), t0());
    assert_eq!(points, 1050);
    let change = retier(&p, &mut survivor, points, "t".into(), t0()).expect("a change");
    assert_eq!(
        (change.from_tier.as_str(), change.to_tier.as_str()),
        ("regular", "silver")
    );
    assert_eq!(
        (change.qualifying_points, change.transaction.as_str()),
        (1050, "t")
    );
    assert_eq!(survivor.tier, "silver");
    assert_eq!(
        retier(&p, &mut survivor, points, "t".into(), t0()),
        None,
        "no change twice"
    );
    let change = retier(&p, &mut survivor, 20_000, "t".into(), t0()).expect("up again");
    assert_eq!(change.to_tier, "gold");
    let change = retier(&p, &mut survivor, -5, "t".into(), t0()).expect("down");
    assert_eq!(
        (change.to_tier.as_str(), change.qualifying_points),
        ("regular", 0)
    );
}
