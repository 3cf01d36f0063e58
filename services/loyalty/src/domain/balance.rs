//! A wallet's state and the balance views computed from it at a given time.
use super::CustomerId;
use super::lots::{self, Lot};
use super::program::{self, Program};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The wallet row: chain head, balances, lifetime counters, stored tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wallet {
    pub customer: CustomerId,
    pub sequence: i64,
    pub last_hash: String,
    /// Balance of the wallet account: equals the lots' remaining points.
    pub balance: i64,
    /// Balance of the held account: equals the active holds' points.
    pub held: i64,
    pub lifetime_earned: i64,
    pub lifetime_redeemed: i64,
    pub lifetime_expired: i64,
    pub owed: i64,
    /// The tier as of the last write (reads compute it afresh).
    pub tier: String,
    /// The survivor this customer was merged into: the wallet is closed, its writes and
    /// balance reads go to the survivor ([`super::merge`]).
    #[serde(default)]
    pub merged_into: Option<CustomerId>,
}

impl Wallet {
    pub fn empty(customer: CustomerId, tier: &str) -> Self {
        Self {
            customer,
            sequence: 0,
            last_hash: super::chain::GENESIS.to_owned(),
            balance: 0,
            held: 0,
            lifetime_earned: 0,
            lifetime_redeemed: 0,
            lifetime_expired: 0,
            owed: 0,
            tier: tier.to_owned(),
            merged_into: None,
        }
    }
}

/// Everything a balance is computed from; what the cache holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub wallet: Wallet,
    /// Lots with points left.
    pub lots: Vec<Lot>,
    /// (qualify time, delta) of the qualifying window and a little before.
    pub qualifying: Vec<(DateTime<Utc>, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierStatus {
    pub tier: String,
    pub qualifying_points: i64,
    pub next_tier: String,
    pub points_to_next_tier: i64,
    pub multiplier_permille: i32,
}

/// A move from one tier to another, recorded by the write that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChange {
    pub id: Uuid,
    pub customer: CustomerId,
    pub from_tier: String,
    pub to_tier: String,
    pub qualifying_points: i64,
    /// The name of the transaction that caused it (empty when none did).
    pub transaction: String,
    pub change_time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceView {
    pub customer: CustomerId,
    pub available: i64,
    pub pending: i64,
    pub held: i64,
    pub expiring: Vec<(DateTime<Utc>, i64)>,
    pub lifetime_earned: i64,
    pub lifetime_redeemed: i64,
    pub lifetime_expired: i64,
    pub owed: i64,
    pub tier: TierStatus,
    pub read_time: DateTime<Utc>,
}

/// Days ahead that GetBalance reports expiring points for.
pub const EXPIRING_DAYS: i64 = 30;

pub fn tier_status(
    p: &Program,
    qualifying: &[(DateTime<Utc>, i64)],
    now: DateTime<Utc>,
) -> TierStatus {
    let points = program::qualifying_points(qualifying, p.window_start(now), now);
    let tier = p.tier_for(points);
    let next = p.next_tier(&tier.code);
    TierStatus {
        tier: tier.code.clone(),
        qualifying_points: points,
        next_tier: next.map(|t| t.code.clone()).unwrap_or_default(),
        points_to_next_tier: next
            .map(|t| t.threshold.saturating_sub(points).max(0))
            .unwrap_or(0),
        multiplier_permille: tier.multiplier_permille,
    }
}

impl Snapshot {
    pub fn balance(&self, p: &Program, now: DateTime<Utc>) -> BalanceView {
        let w = &self.wallet;
        BalanceView {
            customer: w.customer,
            available: lots::available(&self.lots, now),
            pending: lots::pending(&self.lots, now),
            held: w.held,
            expiring: lots::expiring_within(&self.lots, now, EXPIRING_DAYS),
            lifetime_earned: w.lifetime_earned,
            lifetime_redeemed: w.lifetime_redeemed,
            lifetime_expired: w.lifetime_expired,
            owed: w.owed,
            tier: tier_status(p, &self.qualifying, now),
            read_time: now,
        }
    }
}
