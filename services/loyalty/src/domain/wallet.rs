//! One wallet as a write sees it: the row, its live lots and tier history at the write's
//! clock. The rules of every movement change this state in memory; the service loads it
//! under the wallet lock before and stores what [`WalletState::finish`] returns after.
use super::balance::{Snapshot, TierChange, tier_status};
use super::chain::{Draft, GENESIS, Transaction};
use super::lots::{self, Consumption, Lot};
use super::refusal::Refusal;
use super::reverse::OrderState;
use super::{CustomerId, Program, Wallet, points};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletState {
    pub wallet: Wallet,
    /// Lots with points left, and emptied lots loaded to be given back to.
    pub lots: Vec<Lot>,
    /// (qualify time, delta) from [`Program::write_history_from`] on.
    pub qualifying: Vec<(DateTime<Utc>, i64)>,
    /// The write's clock: never earlier than an earlier write's on this state.
    pub now: DateTime<Utc>,
    /// Lots created or changed since the state was loaded or continued.
    touched: HashSet<Uuid>,
    /// Transactions appended since then, in chain order.
    posted: Vec<Transaction>,
}

/// A movement's transaction, and the new state of the order it touched (to be saved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub transaction: Transaction,
    pub order: Option<OrderState>,
}

/// What a write leaves to store besides the wallet row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// In chain order.
    pub transactions: Vec<Transaction>,
    /// Lots created or changed (emptied ones included).
    pub lots: Vec<Lot>,
    pub tier_change: Option<TierChange>,
}

impl WalletState {
    pub fn new(
        wallet: Wallet,
        lots: Vec<Lot>,
        qualifying: Vec<(DateTime<Utc>, i64)>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            wallet,
            lots,
            qualifying,
            now,
            touched: HashSet::new(),
            posted: Vec::new(),
        }
    }

    /// The state a next write continues from (a finished one), at `now` or at this state's
    /// clock if that is later, so a wallet's transactions are in time order.
    pub fn continued(mut self, now: DateTime<Utc>) -> Self {
        self.now = self.now.max(now);
        self.touched.clear();
        self.posted.clear();
        self
    }

    pub fn customer(&self) -> CustomerId {
        self.wallet.customer
    }

    /// Transactions appended since the state was loaded or continued, in chain order.
    pub fn posted(&self) -> &[Transaction] {
        &self.posted
    }

    pub fn available(&self) -> i64 {
        lots::available(&self.lots, self.now)
    }

    /// Takes up to `want` points, FEFO, from the lots `eligible` picks.
    pub fn consume(&mut self, want: i64, eligible: impl Fn(&Lot) -> bool) -> Vec<Consumption> {
        let taken = lots::consume(&mut self.lots, want, eligible);
        self.touched.extend(taken.iter().map(|c| c.lot));
        taken
    }

    /// Takes exactly `points` available points, FEFO, or refuses with what is available.
    pub fn spend_available(&mut self, points: i64) -> Result<Vec<Consumption>, Refusal> {
        let available = self.available();
        if points > available {
            return Err(Refusal::Insufficient {
                customer: self.customer(),
                wanted: points,
                available,
            });
        }
        let now = self.now;
        Ok(self.consume(points, |l| l.is_available(now)))
    }

    /// Lots of `taken` this state does not hold (they ran empty): load them with
    /// [`Self::add_loaded`] before giving points back to them.
    pub fn missing_lots(&self, taken: &[Consumption]) -> Vec<Uuid> {
        taken
            .iter()
            .map(|c| c.lot)
            .filter(|id| !self.lots.iter().any(|l| l.id == *id))
            .collect()
    }

    pub fn add_loaded(&mut self, loaded: Vec<Lot>) {
        self.lots.extend(loaded);
    }

    /// Gives `points` of `taken` back to their lots (see [`lots::give_back`]).
    pub fn give_back(&mut self, taken: &[Consumption], points: i64) -> Vec<Consumption> {
        let back = lots::give_back(&mut self.lots, taken, points);
        self.touched.extend(back.iter().map(|c| c.lot));
        back
    }

    /// A new lot of `points` earned now.
    pub fn add_lot(
        &mut self,
        points: i64,
        order_id: &str,
        available_time: DateTime<Utc>,
        expire_time: DateTime<Utc>,
    ) {
        let lot = Lot {
            id: Uuid::now_v7(),
            order_id: order_id.to_owned(),
            earn_time: self.now,
            available_time,
            expire_time,
            amount: points,
            remaining: points,
        };
        self.touched.insert(lot.id);
        self.lots.push(lot);
    }

    /// Appends a transaction to the wallet's chain. Refuses anything that would leave the
    /// wallet or held balance negative or the postings unbalanced, and a credit that takes
    /// the customer beyond `limits.max_balance`.
    pub fn post(&mut self, p: &Program, d: Draft) -> Result<Transaction, Refusal> {
        let t = chain_append(&mut self.wallet, d, self.now, Some(p.limits.max_balance))?;
        if t.qualifying_delta != 0 && t.qualify_time >= p.write_history_from(self.now) {
            self.qualifying.push((t.qualify_time, t.qualifying_delta));
        }
        self.posted.push(t.clone());
        Ok(t)
    }

    /// Ends a write: checks that the wallet balance equals the lots' points, moves the
    /// stored tier to the one the qualifying history gives now (recording the change), and
    /// drops emptied lots. Returns what to store; the state is then ready to continue.
    pub fn finish(&mut self, p: &Program) -> Result<Finished, Refusal> {
        let lot_total = points::wide_sum(self.lots.iter().map(|l| l.remaining));
        if lot_total != i128::from(self.wallet.balance) {
            return Err(Refusal::Broken(format!(
                "wallet {} balance {} but lots hold {lot_total}",
                self.wallet.customer, self.wallet.balance
            )));
        }
        let lots = self
            .lots
            .iter()
            .filter(|l| self.touched.contains(&l.id))
            .cloned()
            .collect();
        let status = tier_status(p, &self.qualifying, self.now);
        let tier_change = (status.tier != self.wallet.tier).then(|| TierChange {
            id: Uuid::now_v7(),
            customer: self.customer(),
            from_tier: self.wallet.tier.clone(),
            to_tier: status.tier.clone(),
            qualifying_points: status.qualifying_points,
            transaction: self.posted.last().map(|t| t.name()).unwrap_or_default(),
            change_time: self.now,
        });
        self.wallet.tier = status.tier;
        self.lots.retain(|l| l.remaining > 0);
        self.touched.clear();
        Ok(Finished {
            transactions: std::mem::take(&mut self.posted),
            lots,
            tier_change,
        })
    }

    /// What a balance is computed from, as of this state.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            wallet: self.wallet.clone(),
            lots: self.lots.clone(),
            qualifying: self.qualifying.clone(),
        }
    }
}

#[cfg(test)]
mod tests;

/// Appends `d` to `w`'s chain at `now` (next sequence, hash linked to the last one, the
/// balances after it) and moves the wallet on. Refuses unbalanced postings and a negative
/// wallet or held balance; with `max_balance`, also a movement that gives the customer more
/// points beyond it (a wallet above it after the limit was lowered can still spend, expire
/// and release). A merge passes none: it moves points the customers hold already.
pub(super) fn chain_append(
    w: &mut Wallet,
    d: Draft,
    now: DateTime<Utc>,
    max_balance: Option<i64>,
) -> Result<Transaction, Refusal> {
    let mut t = Transaction {
        id: d.id,
        customer: w.customer,
        sequence: w
            .sequence
            .checked_add(1)
            .ok_or(Refusal::Overflow("the chain's sequence"))?,
        kind: d.kind,
        postings: d.postings,
        order_id: d.order_id,
        text_digest: super::chain::text_digest(&d.reason, &d.actor),
        reason: d.reason,
        actor: d.actor,
        shortfall: d.shortfall,
        related: d.related,
        qualifying_delta: d.qualifying_delta,
        qualify_time: d.qualify_time.unwrap_or(now),
        wallet_after: 0,
        held_after: 0,
        create_time: now,
        prev_hash: if w.sequence == 0 {
            GENESIS.to_owned()
        } else {
            w.last_hash.clone()
        },
        hash: String::new(),
    };
    if t.sum() != 0 {
        return Err(Refusal::Broken(format!(
            "refusing unbalanced transaction {t:?}"
        )));
    }
    let refused = |max_balance| Refusal::BalanceLimit {
        customer: t.customer,
        max_balance,
    };
    let (wallet_after, held_after) =
        t.balances_after(w.balance, w.held)
            .ok_or_else(|| match max_balance {
                Some(max) => refused(max),
                None => Refusal::Overflow("the wallet's balance"),
            })?;
    if wallet_after < 0 || held_after < 0 {
        return Err(Refusal::Broken(format!("refusing negative balance {t:?}")));
    }
    let before = i128::from(w.balance) + i128::from(w.held);
    let after = i128::from(wallet_after) + i128::from(held_after);
    if let Some(max) = max_balance
        && after > before
        && after > i128::from(max)
    {
        return Err(refused(max));
    }
    t.wallet_after = wallet_after;
    t.held_after = held_after;
    t.hash = t.compute_hash();
    w.sequence = t.sequence;
    w.last_hash = t.hash.clone();
    w.balance = t.wallet_after;
    w.held = t.held_after;
    Ok(t)
}
