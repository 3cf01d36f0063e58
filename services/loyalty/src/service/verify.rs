//! VerifyLedger: walks every chain, recomputing hashes and balances, and compares the heads
//! with the wallets, the lots and the holds. Reports the first inconsistency.
use super::LoyaltyService;
use crate::domain::chain::GENESIS;
use crate::domain::{CustomerId, Wallet};
use crate::store::{ledger as store, lots as lot_store};
use crm_platform::Error;
use sea_orm::ConnectionTrait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconsistency {
    pub customer: Option<CustomerId>,
    pub sequence: i64,
    pub transaction: String,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub accounts_checked: i64,
    pub transactions_checked: i64,
    pub first_inconsistency: Option<Inconsistency>,
}

/// Transactions read at a time from one chain.
const BATCH: u64 = 500;

fn about(customer: CustomerId, problem: impl Into<String>) -> Inconsistency {
    Inconsistency {
        customer: Some(customer),
        sequence: 0,
        transaction: String::new(),
        problem: problem.into(),
    }
}

/// Checks one wallet's chain against its row and its lots' and holds' totals (read in the
/// same transaction). `Some` is the first inconsistency.
async fn verify_wallet(
    conn: &impl ConnectionTrait,
    wallet: &Wallet,
    (lots, holds): (i64, i64),
    checked: &mut i64,
) -> Result<Option<Inconsistency>, Error> {
    let customer = wallet.customer;
    let (mut hash, mut seq, mut bal, mut held) = (GENESIS.to_owned(), 0i64, 0i64, 0i64);
    loop {
        let batch = store::chain_after(conn, customer, seq, BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for t in batch {
            *checked = checked.saturating_add(1);
            if let Err(problem) = t.check_link(&hash, seq, bal, held) {
                return Ok(Some(Inconsistency {
                    customer: Some(customer),
                    sequence: t.sequence,
                    transaction: t.name(),
                    problem,
                }));
            }
            hash = t.hash.clone();
            seq = t.sequence;
            bal = t.wallet_after;
            held = t.held_after;
        }
    }
    if wallet.sequence != seq || (seq > 0 && wallet.last_hash != hash) {
        return Ok(Some(about(
            customer,
            format!(
                "wallet head is #{} but the chain ends at #{seq}",
                wallet.sequence
            ),
        )));
    }
    if wallet.balance != bal || wallet.held != held {
        return Ok(Some(about(
            customer,
            format!(
                "wallet says {}/{} (wallet/held) but the postings sum to {bal}/{held}",
                wallet.balance, wallet.held
            ),
        )));
    }
    if lots != bal {
        return Ok(Some(about(
            customer,
            format!("wallet balance {bal} but lots hold {lots}"),
        )));
    }
    if holds != held {
        return Ok(Some(about(
            customer,
            format!("held balance {held} but active holds hold {holds}"),
        )));
    }
    Ok(None)
}

/// Checks `wallets` in `conn`'s transaction; stops at the first inconsistency.
async fn verify_wallets(
    conn: &impl ConnectionTrait,
    wallets: &[Wallet],
    out: &mut Verification,
) -> Result<(), Error> {
    let ids: Vec<CustomerId> = wallets.iter().map(|w| w.customer).collect();
    let totals = lot_store::totals(conn, &ids).await?;
    for w in wallets {
        out.accounts_checked = out.accounts_checked.saturating_add(1);
        let found = totals.get(&w.customer).copied().unwrap_or_default();
        if let Some(i) = verify_wallet(conn, w, found, &mut out.transactions_checked).await? {
            out.first_inconsistency = Some(i);
            return Ok(());
        }
    }
    Ok(())
}

impl LoyaltyService {
    /// One customer's wallet, or the whole ledger a keyset page of wallets at a time (each
    /// page in a short read transaction of its own; every wallet is checked at one
    /// consistent state), then the sum of all postings.
    pub async fn verify(&self, customer: Option<CustomerId>) -> Result<Verification, Error> {
        let mut out = Verification {
            accounts_checked: 0,
            transactions_checked: 0,
            first_inconsistency: None,
        };
        if let Some(c) = customer {
            let txn = self.read_txn().await?;
            if let Some(w) = store::find_wallet(&txn, c).await? {
                verify_wallets(&txn, &[w], &mut out).await?;
            } else {
                out.accounts_checked = 1;
            }
            txn.commit().await?;
            return Ok(out);
        }
        // Wallets are checked a page per read transaction, so a whole-ledger check holds no
        // transaction (on SQLite: the only connection) for long and never loads every wallet.
        let mut after = None;
        loop {
            let txn = self.read_txn().await?;
            let page = store::wallets_after(&txn, after, self.cfg.ledger_page_size).await?;
            verify_wallets(&txn, &page, &mut out).await?;
            txn.commit().await?;
            if out.first_inconsistency.is_some() || (page.len() as u64) < self.cfg.ledger_page_size
            {
                break;
            }
            after = page.last().map(|w| w.customer);
        }
        if out.first_inconsistency.is_none() {
            // Every transaction sums to zero, so the total is zero at any consistent state.
            let total = store::total_of_all_postings(&self.core.db).await?;
            if total != 0 {
                out.first_inconsistency = Some(Inconsistency {
                    customer: None,
                    sequence: 0,
                    transaction: String::new(),
                    problem: format!("all postings sum to {total}, not 0"),
                });
            }
        }
        Ok(out)
    }
}
