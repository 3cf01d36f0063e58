//! Gifts of points between customers. Both wallets are locked in id order (no deadlock
//! with another transfer the other way); the points keep their expiry dates.
use super::writer::{Draft, WalletWriter};
use super::{Begun, LoyaltyService, Mutation, TransferOutcome};
use crate::domain::ledger::movement;
use crate::domain::{Account, CustomerId, Transaction, TxKind};
use crate::error;
use crm_platform::Error;
use crm_platform::idempotency::IdempotencyKey;
use uuid::Uuid;

impl LoyaltyService {
    pub async fn transfer(
        &self,
        key: &IdempotencyKey,
        from: CustomerId,
        to: CustomerId,
        points: i64,
        reason: &str,
    ) -> Result<TransferOutcome, Error> {
        let p = self.program();
        if !p.transfers_allowed {
            return Err(error::transfers_disabled());
        }
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let now = crate::domain::now();
        let m = {
            let (first, second) = if from < to { (from, to) } else { (to, from) };
            let a = WalletWriter::open(&txn, p, first, now).await?;
            let b = WalletWriter::open(&txn, p, second, now).await?;
            let (mut sender, mut receiver) = if first == from { (a, b) } else { (b, a) };
            let now = sender.now;
            let available = sender.available();
            if points > available {
                return Err(error::insufficient(from, points, available));
            }
            let taken = sender.consume(points, |l| l.is_available(now));
            for c in &taken {
                let expire = sender
                    .lots
                    .iter()
                    .find(|l| l.id == c.lot)
                    .map(|l| l.expire_time)
                    .unwrap_or_else(|| p.expiry_of(now));
                receiver.add_lot(c.points, "", now, expire);
            }
            let (out_id, in_id) = (Uuid::now_v7(), Uuid::now_v7());
            let tx_name = |c: CustomerId, id: Uuid| format!("{}/transactions/{id}", c.name());
            let mut out = Draft::new(
                TxKind::TransferOut,
                movement(Account::Wallet(from), Account::Transfers, points),
            );
            out.id = out_id;
            out.reason = reason.to_owned();
            out.related = tx_name(to, in_id);
            let mut inn = Draft::new(
                TxKind::TransferIn,
                movement(Account::Transfers, Account::Wallet(to), points),
            );
            inn.id = in_id;
            inn.reason = reason.to_owned();
            inn.related = tx_name(from, out_id);
            let debit: Transaction = sender.post(out)?;
            let credit: Transaction = receiver.post(inn)?;
            let from_snapshot = sender.finish().await?;
            receiver.finish().await?;
            Mutation {
                resource: from.name(),
                touched: vec![from, to],
                value: TransferOutcome {
                    debit,
                    credit,
                    from_balance: from_snapshot.balance(p, now),
                },
            }
        };
        self.commit(txn, key, m).await
    }
}
