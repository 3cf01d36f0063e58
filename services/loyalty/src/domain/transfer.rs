//! Gifts of points between customers: the points keep their expiry dates.
use super::Program;
use super::chain::{Draft, Transaction, transaction_name};
use super::earn::positive;
use super::ledger::{Account, TxKind, movement};
use super::refusal::Refusal;
use super::wallet::WalletState;
use uuid::Uuid;

/// Refuses transfers when the programme does not allow them.
pub fn allowed(p: &Program) -> Result<(), Refusal> {
    if p.transfers_allowed {
        Ok(())
    } else {
        Err(Refusal::TransfersDisabled)
    }
}

/// Moves `points` available points (FEFO) from `sender` to `receiver`: one lot per lot
/// taken, expiring when it did, available at once. Two transactions through the transfers
/// account, each naming the other. Returns (debit, credit).
pub fn transfer(
    p: &Program,
    sender: &mut WalletState,
    receiver: &mut WalletState,
    points: i64,
    reason: &str,
) -> Result<(Transaction, Transaction), Refusal> {
    allowed(p)?;
    positive("points", points)?;
    let (from, to) = (sender.customer(), receiver.customer());
    if from == to {
        return Err(Refusal::invalid(
            "to_customer",
            "must differ from from_customer",
        ));
    }
    let now = sender.now;
    for c in sender.spend_available(points)? {
        let expire = sender
            .lots
            .iter()
            .find(|l| l.id == c.lot)
            .map(|l| l.expire_time)
            .unwrap_or_else(|| p.expiry_of(now));
        receiver.add_lot(c.points, "", now, expire);
    }
    let (out_id, in_id) = (Uuid::now_v7(), Uuid::now_v7());
    let mut out = Draft::new(
        TxKind::TransferOut,
        movement(Account::Wallet(from), Account::Transfers, points),
    );
    out.id = out_id;
    out.reason = reason.to_owned();
    out.related = transaction_name(to, in_id);
    let mut inn = Draft::new(
        TxKind::TransferIn,
        movement(Account::Transfers, Account::Wallet(to), points),
    );
    inn.id = in_id;
    inn.reason = reason.to_owned();
    inn.related = transaction_name(from, out_id);
    let debit = sender.post(p, out)?;
    let credit = receiver.post(p, inn)?;
    Ok((debit, credit))
}
