//! Merging customers (CustomerMerged): each loser's wallet moves into the survivor's in one
//! movement through the merges clearing account, recorded in both chains (a MergeOut on
//! the loser's, naming the MergeIn on the survivor's, and back). The lots, holds and orders
//! rows go with the points unchanged (same ids, earn, available and expiry times), so
//! nothing is lumped together and a hold placed on the loser can still be captured or
//! released. The loser's qualifying history is carried over dated as it was, so the
//! programme's rules rate the survivor on both histories. The loser's wallet is then closed:
//! it names the survivor, and every later write or balance read for it goes there.
use super::balance::TierChange;
use super::chain::{Draft, Transaction, transaction_name};
use super::ledger::{Account, Posting, TxKind};
use super::points;
use super::refusal::Refusal;
use super::{CustomerId, Program, Wallet};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Most links followed from a customer to the survivor it ended in. A merge re-points
/// earlier losers to the new survivor, so chains are one link long; the bound only keeps
/// rows altered behind the service's back from looping.
pub const MAX_HOPS: usize = 16;

/// What a merge does with one of the losers it names, decided on the locked row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoserStep {
    /// The loser has a chain: move its wallet.
    Move,
    /// The loser never had a wallet (created empty by the lock): close it, so later
    /// writes for it go to the survivor.
    Close,
    /// Merged before, into this survivor (`Some(survivor)`: the same merge again) or into
    /// another one: nothing to do.
    AlreadyMerged(CustomerId),
    /// The loser is the survivor (named twice, or merged into it before).
    Survivor,
}

pub fn step(survivor: CustomerId, loser: &Wallet) -> LoserStep {
    if loser.customer == survivor {
        return LoserStep::Survivor;
    }
    match loser.merged_into {
        Some(into) => LoserStep::AlreadyMerged(into),
        None if loser.sequence == 0 => LoserStep::Close,
        None => LoserStep::Move,
    }
}

/// One loser's move: the transaction leaving its chain and the one arriving in the
/// survivor's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub out: Transaction,
    pub into: Transaction,
}

/// Moves `loser`'s whole wallet (balance and held points) into `survivor`'s and closes it.
/// `(lots, holds)`: the points of the loser's live lots and active holds as stored, which
/// move with it and must equal its balances. Lifetime counters and owed points move too.
/// No balance limit: the survivor gets what the customer already held.
pub fn move_wallet(
    survivor: &mut Wallet,
    loser: &mut Wallet,
    (lots, holds): (i64, i64),
    now: DateTime<Utc>,
) -> Result<Moved, Refusal> {
    let (s, l) = (survivor.customer, loser.customer);
    if s == l || survivor.merged_into.is_some() || loser.merged_into.is_some() {
        return Err(Refusal::Broken(format!(
            "cannot merge {l} into {s}: one of them is closed"
        )));
    }
    if loser.balance != lots || loser.held != holds {
        return Err(Refusal::Broken(format!(
            "{l} has {}/{} (wallet/held) but its lots and holds hold {lots}/{holds}",
            loser.balance, loser.held
        )));
    }
    let total = points::add(loser.balance, loser.held)
        .map_err(|_| Refusal::Overflow("the merged points"))?;
    let (out_id, in_id) = (Uuid::now_v7(), Uuid::now_v7());
    let posting = |account, amount| Posting { account, amount };
    let mut out = Draft::new(
        TxKind::MergeOut,
        [
            posting(Account::Wallet(l), -loser.balance),
            posting(Account::Held(l), -loser.held),
            posting(Account::Merges, total),
        ],
    );
    out.id = out_id;
    out.related = transaction_name(s, in_id);
    let mut into = Draft::new(
        TxKind::MergeIn,
        [
            posting(Account::Merges, -total),
            posting(Account::Wallet(s), loser.balance),
            posting(Account::Held(s), loser.held),
        ],
    );
    into.id = in_id;
    into.related = transaction_name(l, out_id);
    let out = append(loser, out, now)?;
    let into = append(survivor, into, now)?;
    let moved = |what| Refusal::Overflow(what);
    survivor.lifetime_earned = points::add(survivor.lifetime_earned, loser.lifetime_earned)
        .map_err(|_| moved("lifetime earned points"))?;
    survivor.lifetime_redeemed = points::add(survivor.lifetime_redeemed, loser.lifetime_redeemed)
        .map_err(|_| moved("lifetime redeemed points"))?;
    survivor.lifetime_expired = points::add(survivor.lifetime_expired, loser.lifetime_expired)
        .map_err(|_| moved("lifetime expired points"))?;
    survivor.owed = points::add(survivor.owed, loser.owed).map_err(|_| moved("owed points"))?;
    close(loser, s);
    Ok(Moved { out, into })
}

/// Closes `loser`'s (empty) wallet into `survivor`: its counters now count on the survivor.
pub fn close(loser: &mut Wallet, survivor: CustomerId) {
    loser.lifetime_earned = 0;
    loser.lifetime_redeemed = 0;
    loser.lifetime_expired = 0;
    loser.owed = 0;
    loser.merged_into = Some(survivor);
}

/// Carries qualifying history `(qualify time, delta)` of a loser into `survivor`'s chain: an
/// entry without postings per delta, dated as it was, naming `merge_in` (the MergeIn that
/// moved the loser's points). The tier reads them like any other qualifying transaction.
pub fn carry_qualifying(
    survivor: &mut Wallet,
    entries: &[(DateTime<Utc>, i64)],
    merge_in: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Transaction>, Refusal> {
    entries
        .iter()
        .filter(|(_, delta)| *delta != 0)
        .map(|&(at, delta)| {
            let mut d = Draft::new(TxKind::MergeIn, []);
            d.related = merge_in.to_owned();
            d.qualifying_delta = delta;
            d.qualify_time = Some(at);
            append(survivor, d, now)
        })
        .collect()
}

/// Rates `survivor` by the programme on the qualifying points of its window (carried
/// entries included; see [`super::program::qualifying_points`]) and records the change from
/// its stored tier, if any, naming `transaction`.
pub fn retier(
    p: &Program,
    survivor: &mut Wallet,
    qualifying_points: i64,
    transaction: String,
    now: DateTime<Utc>,
) -> Option<TierChange> {
    let points = qualifying_points.max(0);
    let tier = p.tier_for(points).code.clone();
    if tier == survivor.tier {
        return None;
    }
    Some(TierChange {
        id: Uuid::now_v7(),
        customer: survivor.customer,
        from_tier: std::mem::replace(&mut survivor.tier, tier.clone()),
        to_tier: tier,
        qualifying_points: points,
        transaction,
        change_time: now,
    })
}

/// Appends `d` to `w`'s chain at `now` with no balance limit and no lots: a merge moves
/// points the customers hold already.
fn append(w: &mut Wallet, d: Draft, now: DateTime<Utc>) -> Result<Transaction, Refusal> {
    super::wallet::chain_append(w, d, now, None)
}

#[cfg(test)]
mod tests;
