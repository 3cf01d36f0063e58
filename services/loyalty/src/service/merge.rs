//! CustomerMerged, applied in the consumer's transaction ([`crate::domain::merge`] has the
//! rules), and the redirect of a merged customer's calls to its survivor:
//! - Earn, Redeem and Adjust for a loser land on the survivor: the wallet lock refuses a
//!   closed wallet (`writer::open_many`) and the write is retried on the survivor it names.
//! - Holds, Reverse, Transfer and Expire resolve the customer to its survivor first (a
//!   merge committing in between is refused under the lock, CUSTOMER_MERGED, retryable).
//! - GetBalance and GetTier for a loser answer with the survivor's wallet: the reply's
//!   `customer` names the survivor. A loser's own history (ListTransactions, GetBalanceAt,
//!   ListTierHistory) stays readable under its name and ends with its MergeOut.
//!
//! Active holds move with the wallet (held points, hold rows and the lots they came from),
//! so a checkout in progress still captures or releases, by either customer's hold name.
use super::{LoyaltyService, session::Write};
use crate::domain::merge::{self, LoserStep, MAX_HOPS};
use crate::domain::{CustomerId, Snapshot, Transaction, Wallet};
use crate::error;
use crate::events::consume::customer;
use crate::events::produce;
use crate::store::{ledger as store, lots as lot_store, merge as merge_store, tiers};
use crm_platform::Error;
use crm_proto::events as ev;
use ev::event::Payload;
use sea_orm::ConnectionTrait;
use std::collections::HashMap;
use std::sync::Arc;

/// Most losers one CustomerMerged may name (customers merges a handful at a time).
pub const MAX_LOSERS: usize = 1000;

/// Qualifying entries of a loser read and carried over at a time.
const HISTORY_PAGE: u64 = 500;

/// `w` for `customer` instead.
pub(super) fn redirected(w: &Write, customer: CustomerId) -> Write {
    let mut w = w.clone();
    match &mut w {
        Write::Earn(r) => r.customer = customer,
        Write::Redeem(r) => r.customer = customer,
        Write::Adjust(a, _) => a.customer = customer,
    }
    w
}

/// Refuses to write a closed wallet: the error names its survivor.
pub(super) fn refuse_closed(wallets: &[Wallet]) -> Result<(), Error> {
    match wallets
        .iter()
        .find_map(|w| Some((w.customer, w.merged_into?)))
    {
        Some((customer, survivor)) => Err(error::merged(customer, survivor)),
        None => Ok(()),
    }
}

fn too_many_hops(customer: CustomerId) -> Error {
    Error::internal(anyhow::anyhow!(
        "{customer} is merged more than {MAX_HOPS} times over (or in a loop)"
    ))
}

impl LoyaltyService {
    /// The customer whose wallet `customer`'s writes go to: itself unless merged.
    pub async fn survivor_of(
        &self,
        conn: &impl ConnectionTrait,
        customer: CustomerId,
    ) -> Result<CustomerId, Error> {
        let mut at = customer;
        for _ in 0..MAX_HOPS {
            match merge_store::merged_into(conn, at).await? {
                Some(next) => at = next,
                None => return Ok(at),
            }
        }
        Err(too_many_hops(customer))
    }

    /// The snapshot of the open wallet `customer` ends in (through the cache).
    pub(super) async fn open_snapshot(&self, customer: CustomerId) -> Result<Arc<Snapshot>, Error> {
        let mut at = customer;
        for _ in 0..MAX_HOPS {
            let s = self.snapshot(at).await?;
            match s.wallet.merged_into {
                Some(next) => at = next,
                None => return Ok(s),
            }
        }
        Err(too_many_hops(customer))
    }

    /// Applies CUSTOMER_MERGED in `txn` (the consumer's): every loser with a wallet moves
    /// into the survivor's (see the module doc). Appends its events in `txn` and returns
    /// them: TierChanged (reason MERGED) when the survivor's tier changes. Idempotent without the inbox: a
    /// loser merged already is left alone, so the same merge twice changes nothing. The
    /// survivor is followed to the open wallet it ends in; a loser merged elsewhere before
    /// is left where it went.
    pub async fn merge_customers_in(
        &self,
        txn: &impl ConnectionTrait,
        m: &ev::CustomerMerged,
    ) -> Result<Vec<Payload>, Error> {
        if m.losers.len() > MAX_LOSERS {
            return Err(Error::invalid_field(
                "losers",
                format!("at most {MAX_LOSERS} per merge"),
            ));
        }
        let named = customer(&m.survivor)?;
        let mut losers = Vec::with_capacity(m.losers.len());
        for l in &m.losers {
            let l = customer(l)?;
            if !losers.contains(&l) {
                losers.push(l);
            }
        }
        let survivor = self.survivor_of(txn, named).await?;
        losers.retain(|l| *l != survivor);
        if losers.is_empty() {
            return Ok(Vec::new());
        }
        let p = self.program();
        let mut ids: Vec<CustomerId> = losers.iter().copied().chain([survivor]).collect();
        ids.sort();
        let mut locked: HashMap<CustomerId, Wallet> = store::lock_wallets(txn, &ids, p.base_tier())
            .await?
            .into_iter()
            .map(|w| (w.customer, w))
            .collect();
        let take = |locked: &mut HashMap<CustomerId, Wallet>, c: CustomerId| {
            locked
                .remove(&c)
                .ok_or_else(|| Error::internal(anyhow::anyhow!("wallet {c} not locked")))
        };
        let mut s = take(&mut locked, survivor)?;
        // Closed by a merge that committed after it was resolved: retried, resolved again.
        refuse_closed(std::slice::from_ref(&s))?;
        let now = crate::domain::now();
        let totals = lot_store::totals(txn, &losers).await?;
        let mut closed = Vec::new();
        let mut last_in: Option<Transaction> = None;
        for l in losers {
            let mut w = take(&mut locked, l)?;
            match merge::step(survivor, &w) {
                LoserStep::Move => {
                    let found = totals.get(&l).copied().unwrap_or_default();
                    let moved = merge::move_wallet(&mut s, &mut w, found, now)?;
                    store::append_many(txn, &[moved.out, moved.into.clone()]).await?;
                    merge_store::move_rows(txn, l, survivor).await?;
                    self.carry_history(txn, &mut s, l, &moved.into.name(), now)
                        .await?;
                    last_in = Some(moved.into);
                }
                LoserStep::Close => merge::close(&mut w, survivor),
                LoserStep::AlreadyMerged(into) => {
                    if into != survivor {
                        tracing::warn!(loser = %l, into = %into, survivor = %survivor,
                            "merge names a loser merged into another customer before; left there");
                    }
                    continue;
                }
                LoserStep::Survivor => continue,
            }
            merge_store::repoint(txn, l, survivor).await?;
            closed.push(w);
        }
        if closed.is_empty() {
            return Ok(Vec::new());
        }
        let points = merge_store::qualifying_sum(txn, survivor, p.window_start(now), now).await?;
        let transaction = last_in.as_ref().map(|t| t.name()).unwrap_or_default();
        let change = merge::retier(p, &mut s, points, transaction, now);
        let heads: Vec<CustomerId> = closed.iter().chain([&s]).map(|w| w.customer).collect();
        closed.push(s);
        store::save_wallets(txn, &closed).await?;
        tiers::insert_many(txn, change.as_slice()).await?;
        let payloads: Vec<Payload> = change
            .iter()
            .map(|c| produce::tier_changed(p, c, last_in.as_ref()))
            .collect();
        let about = payloads.iter().map(|e| (survivor, e.clone())).collect();
        self.events.append(txn, about).await?;
        // Dropped again by the consumer's commit hook once committed (`events::consume`).
        self.invalidate(&heads).await;
        Ok(payloads)
    }

    /// Carries `loser`'s qualifying history that a write may still rate on (from
    /// [`crate::domain::Program::write_history_from`]) into `survivor`'s chain, a page at a
    /// time.
    async fn carry_history(
        &self,
        txn: &impl ConnectionTrait,
        survivor: &mut Wallet,
        loser: CustomerId,
        merge_in: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), Error> {
        let since = self.program().write_history_from(now);
        let mut after = 0;
        loop {
            let page = merge_store::qualifying_page(txn, loser, since, after, HISTORY_PAGE).await?;
            let Some(&(last, _, _)) = page.last() else {
                return Ok(());
            };
            after = last;
            let entries: Vec<_> = page.iter().map(|&(_, at, delta)| (at, delta)).collect();
            let carried = merge::carry_qualifying(survivor, &entries, merge_in, now)?;
            store::append_many(txn, &carried).await?;
            if (page.len() as u64) < HISTORY_PAGE {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_wallets_are_refused_naming_the_survivor() {
        let (a, b) = (CustomerId::generate(), CustomerId::generate());
        let open = Wallet::empty(a, "regular");
        assert!(refuse_closed(std::slice::from_ref(&open)).is_ok());
        let mut closed = Wallet::empty(b, "regular");
        closed.merged_into = Some(a);
        let e = refuse_closed(&[open, closed]).expect_err("closed");
        assert_eq!(error::merged_survivor(&e), Some(a));
    }
}
