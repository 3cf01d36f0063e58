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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{
        customer, day, lot, other_customer, program, t0, wallet, wallet_of,
    };
    use chrono::{DateTime, Utc};

    /// (case, programme change, points, to oneself, outcome: the receiver's new lots as
    /// (points, expiry))
    type TransferRow = (
        &'static str,
        fn(&mut Program),
        i64,
        bool,
        Result<Vec<(i64, DateTime<Utc>)>, Refusal>,
    );

    #[test]
    fn transfers_move_available_points_with_their_expiry() {
        let sender_lots = || vec![lot(1, 100, -1, 10), lot(2, 50, -1, 5), lot(3, 70, 3, 20)];
        let off = |p: &mut Program| p.transfers_allowed = false;
        let low_limit = |p: &mut Program| p.limits.max_balance = 1_030;
        let as_is = |_: &mut Program| {};
        let short = Refusal::Insufficient {
            customer: customer(),
            wanted: 151,
            available: 150,
        };
        let limit = Refusal::BalanceLimit {
            customer: other_customer(),
            max_balance: 1_030,
        };
        #[rustfmt::skip]
        let table: Vec<TransferRow> = vec![
            ("one lot's points keep its expiry", as_is, 30, false, Ok(vec![(30, day(5))])),
            ("across lots, a lot for each", as_is, 120, false, Ok(vec![(50, day(5)), (70, day(10))])),
            ("everything available", as_is, 150, false, Ok(vec![(50, day(5)), (100, day(10))])),
            ("pending points stay", as_is, 151, false, Err(short)),
            ("up to the receiver's limit", low_limit, 30, false, Ok(vec![(30, day(5))])),
            ("beyond the receiver's limit", low_limit, 31, false, Err(limit)),
            ("zero points", as_is, 0, false, Err(Refusal::invalid("points", "must be at least 1"))),
            ("to oneself", as_is, 10, true, Err(Refusal::invalid("to_customer", "must differ from from_customer"))),
            ("transfers switched off", off, 10, false, Err(Refusal::TransfersDisabled)),
        ];
        for (case, tweak, points, to_self, want) in table {
            let mut p = program();
            tweak(&mut p);
            let mut sender = wallet(sender_lots(), 0);
            let receiver_id = if to_self {
                customer()
            } else {
                other_customer()
            };
            let mut receiver = wallet_of(receiver_id, vec![lot(9, 1_000, -1, 400)], 0);
            let got = transfer(&p, &mut sender, &mut receiver, points, "gift").map(|(out, inn)| {
                assert_eq!(
                    (out.wallet_delta(), inn.wallet_delta()),
                    (-points, points),
                    "{case}"
                );
                assert_eq!(out.related, inn.name(), "{case}");
                assert_eq!(inn.related, out.name(), "{case}");
                assert_eq!(
                    (out.qualifying_delta, inn.qualifying_delta),
                    (0, 0),
                    "{case}: gifts do not qualify"
                );
                receiver.lots[1..]
                    .iter()
                    .map(|l| {
                        assert!(l.is_available(t0()), "{case}: available at once");
                        (l.amount, l.expire_time)
                    })
                    .collect()
            });
            assert_eq!(got, want, "{case}");
        }
    }
}
