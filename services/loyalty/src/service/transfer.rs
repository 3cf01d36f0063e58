//! Gifts of points between customers ([`crate::domain::transfer`]). Both wallets are locked
//! in id order (no deadlock with another transfer the other way).
use super::writer::WalletWriter;
use super::{Begun, LoyaltyService, Mutation, TransferOutcome};
use crate::domain::{CustomerId, transfer};
use crm_platform::Error;
use crm_platform::idempotency::IdempotencyKey;

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
        transfer::allowed(p)?;
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let (from, to) = (
            self.survivor_of(&txn, from).await?,
            self.survivor_of(&txn, to).await?,
        );
        let now = crate::domain::now();
        let (first, second) = if from < to { (from, to) } else { (to, from) };
        let a = WalletWriter::open(&txn, p, first, now).await?;
        let b = WalletWriter::open(&txn, p, second, now).await?;
        let (mut sender, mut receiver) = if first == from { (a, b) } else { (b, a) };
        let now = sender.state.now;
        let (debit, credit) =
            transfer::transfer(p, &mut sender.state, &mut receiver.state, points, reason)?;
        let from_snapshot = sender.finish(&self.events).await?;
        receiver.finish(&self.events).await?;
        let m = Mutation {
            resource: from.name(),
            touched: vec![from, to],
            value: TransferOutcome {
                debit,
                credit,
                from_balance: from_snapshot.balance(p, now),
            },
        };
        self.commit(txn, key, m).await
    }
}
