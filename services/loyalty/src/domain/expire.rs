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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{lot, program, remaining, wallet};

    #[test]
    fn due_lots_expire_once() {
        // (case, lots, outcome: (points, lots) expired, remaining after)
        #[rustfmt::skip]
        let table = [
            ("nothing due", vec![lot(1, 10, -1, 5)], None, vec![10]),
            ("an empty wallet", vec![], None, vec![]),
            ("one due lot", vec![lot(1, 10, -9, -1), lot(2, 5, -1, 5)], Some((10, 1)), vec![0, 5]),
            ("due at this very moment", vec![lot(1, 10, -9, 0)], Some((10, 1)), vec![0]),
            ("pending points expire too", vec![lot(1, 7, 3, -1)], Some((7, 1)), vec![0]),
            ("every due lot in one transaction", vec![lot(1, 10, -9, -2), lot(2, 4, -9, -1), lot(3, 1, -1, 1)], Some((14, 2)), vec![0, 0, 1]),
        ];
        for (case, lots, want, left) in table {
            let mut w = wallet(lots, 0);
            let got = expire_due_lots(&program(), &mut w).expect(case);
            assert_eq!(got.as_ref().map(|e| (e.points, e.lots)), want, "{case}");
            assert_eq!(remaining(&w), left, "{case}");
            if let Some(e) = got {
                assert_eq!(
                    e.transaction.delta(Account::Breakage),
                    i128::from(e.points),
                    "{case}"
                );
                assert_eq!(w.wallet.lifetime_expired, e.points, "{case}");
                assert_eq!(
                    e.transaction.reason,
                    format!("{} lot(s) expired", e.lots),
                    "{case}"
                );
            }
            assert_eq!(
                expire_due_lots(&program(), &mut w),
                Ok(None),
                "{case}: only once"
            );
        }
    }
}
