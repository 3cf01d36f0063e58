//! VerifyLedger: walks every chain, recomputing hashes and balances, and compares the heads
//! with the wallets, the lots and the holds. Reports the first inconsistency.
use super::LoyaltyService;
use crate::domain::ledger::GENESIS;
use crate::domain::points::wide_sum;
use crate::domain::{CustomerId, HoldState};
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

const BATCH: u64 = 500;

fn about(customer: CustomerId, problem: impl Into<String>) -> Inconsistency {
    Inconsistency {
        customer: Some(customer),
        sequence: 0,
        transaction: String::new(),
        problem: problem.into(),
    }
}

/// Checks one wallet; `Ok(Err(..))` is an inconsistency, `Err` a failure to read.
async fn verify_wallet(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    checked: &mut i64,
) -> Result<Option<Inconsistency>, Error> {
    let Some(wallet) = store::find_wallet(conn, customer).await? else {
        return Ok(None);
    };
    let (mut hash, mut seq, mut bal, mut held) = (GENESIS.to_owned(), 0i64, 0i64, 0i64);
    loop {
        let batch = store::chain_after(conn, customer, seq, BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for t in batch {
            *checked += 1;
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
    let lots = wide_sum(
        lot_store::live(conn, customer)
            .await?
            .iter()
            .map(|l| l.remaining),
    );
    if lots != i128::from(bal) {
        return Ok(Some(about(
            customer,
            format!("wallet balance {bal} but lots hold {lots}"),
        )));
    }
    let holds = wide_sum(
        lot_store::active_holds(conn, customer)
            .await?
            .iter()
            .filter(|h| h.state == HoldState::Active)
            .map(|h| h.points),
    );
    if holds != i128::from(held) {
        return Ok(Some(about(
            customer,
            format!("held balance {held} but active holds hold {holds}"),
        )));
    }
    Ok(None)
}

impl LoyaltyService {
    pub async fn verify(&self, customer: Option<CustomerId>) -> Result<Verification, Error> {
        let txn = self.read_txn().await?;
        let customers = match customer {
            Some(c) => vec![c],
            None => store::wallet_customers(&txn).await?,
        };
        let mut out = Verification {
            accounts_checked: 0,
            transactions_checked: 0,
            first_inconsistency: None,
        };
        for c in customers {
            out.accounts_checked += 1;
            if let Some(i) = verify_wallet(&txn, c, &mut out.transactions_checked).await? {
                out.first_inconsistency = Some(i);
                break;
            }
        }
        if customer.is_none() && out.first_inconsistency.is_none() {
            let total = store::total_of_all_postings(&txn).await?;
            if total != 0 {
                out.first_inconsistency = Some(Inconsistency {
                    customer: None,
                    sequence: 0,
                    transaction: String::new(),
                    problem: format!("all postings sum to {total}, not 0"),
                });
            }
        }
        txn.commit().await?;
        Ok(out)
    }
}
