//! What the domain's tests build wallets from: the default programme, a fixed clock, and
//! lots and wallets described by a few numbers.
use super::{CustomerId, Lot, Program, Wallet, WalletState};
use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

pub fn program() -> Program {
    super::program::tests::default_program()
}

/// The tests' "now".
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

/// `t0` shifted by `n` days.
pub fn day(n: i64) -> DateTime<Utc> {
    t0() + TimeDelta::days(n)
}

pub fn customer() -> CustomerId {
    CustomerId(Uuid::from_u128(0xc1))
}

pub fn other_customer() -> CustomerId {
    CustomerId(Uuid::from_u128(0xc2))
}

/// Lot `id` of `points`, earned a day before `t0`, available from `day(available)` and
/// expiring at `day(expire)`.
pub fn lot(id: u128, points: i64, available: i64, expire: i64) -> Lot {
    Lot {
        id: Uuid::from_u128(id),
        order_id: String::new(),
        earn_time: day(-1),
        available_time: day(available),
        expire_time: day(expire),
        amount: points,
        remaining: points,
    }
}

/// `customer()`'s wallet at `t0` holding `lots` (the balance is their points) with
/// `qualifying` points earned yesterday.
pub fn wallet(lots: Vec<Lot>, qualifying: i64) -> WalletState {
    wallet_of(customer(), lots, qualifying)
}

pub fn wallet_of(customer: CustomerId, lots: Vec<Lot>, qualifying: i64) -> WalletState {
    let p = program();
    let mut w = Wallet::empty(customer, p.base_tier());
    w.balance = lots.iter().map(|l| l.remaining).sum();
    w.lifetime_earned = w.balance;
    let history = if qualifying == 0 {
        Vec::new()
    } else {
        vec![(day(-1), qualifying)]
    };
    let mut state = WalletState::new(w, lots, history, t0());
    state.wallet.tier = super::balance::tier_status(&p, &state.qualifying, t0()).tier;
    state
}

/// Remaining points of `w`'s lots, in their order.
pub fn remaining(w: &WalletState) -> Vec<i64> {
    w.lots.iter().map(|l| l.remaining).collect()
}
