//! Expiry of due lots: their points move to breakage, once (the lots are left empty).
use super::Program;
use super::chain::{Draft, Transaction};
use super::ledger::{Account, TxKind, movement};
use super::lots::total;
use super::refusal::{Refusal, add_to};
use super::wallet::WalletState;

/// What expiring a wallet's due lots did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredLots {
    pub transaction: Transaction,
    pub points: i64,
    pub lots: usize,
}

/// Moves every point of lots due at `w.now` to breakage in one transaction; `None` when
/// nothing is due.
pub fn expire_due_lots(p: &Program, w: &mut WalletState) -> Result<Option<ExpiredLots>, Refusal> {
    let now = w.now;
    let taken = w.consume(i64::MAX, |l| l.is_due(now));
    let points = total(&taken);
    if points <= 0 {
        return Ok(None);
    }
    let mut d = Draft::new(
        TxKind::Expire,
        movement(Account::Wallet(w.customer()), Account::Breakage, points),
    );
    d.reason = format!("{} lot(s) expired", taken.len());
    let transaction = w.post(p, d)?;
    add_to(
        &mut w.wallet.lifetime_expired,
        points,
        "lifetime expired points",
    )?;
    Ok(Some(ExpiredLots {
        transaction,
        points,
        lots: taken.len(),
    }))
}
