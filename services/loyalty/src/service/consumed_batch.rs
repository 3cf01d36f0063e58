//! Earns of many consumed events (one read's purchases or goodwill) in the consumer's
//! transaction, written as a group commit writes its calls: the wallets locked with one
//! statement in ascending id order and read once (their lots and qualifying history, unless
//! warm), each event applied in order on its wallet's carried state, and every row flushed
//! multi-row at the end. A customer without a wallet gets one. The effects are those of Earn
//! one event at a time: the merged-wallet redirect, an order earning once, back-dating and
//! re-rates, the events appended in ledger order.
use super::LoyaltyService;
use super::consumed::earned_already;
use super::write_set::WriteSet;
use super::writer::{WalletWriter, open_many};
use crate::domain::{CustomerId, EarnRequest};
use crate::store::entities::wallet;
use crm_platform::Error;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect};
use std::collections::HashSet;
use uuid::Uuid;

/// Wallet ids per statement of the merged-wallet lookup.
const IDS_PER_STATEMENT: usize = 1000;

impl LoyaltyService {
    /// Earns each `(event id, request)` of `run` in order, in `txn`.
    pub async fn earn_many_from_events(
        &self,
        txn: &DatabaseTransaction,
        mut run: Vec<(Uuid, EarnRequest)>,
    ) -> Result<(), Error> {
        if run.is_empty() {
            return Ok(());
        }
        // Customers merged since land on their survivors (most have no closed wallet: one
        // statement finds those that do).
        let merged = merged_among(txn, run.iter().map(|(_, r)| r.customer)).await?;
        for (_, req) in &mut run {
            if merged.contains(&req.customer) {
                req.customer = self.survivor_of(txn, req.customer).await?;
            }
        }
        let mut wallets: Vec<CustomerId> = run.iter().map(|(_, r)| r.customer).collect();
        wallets.sort();
        wallets.dedup();
        let p = self.program();
        let mut carried = open_many(txn, p, &wallets, &self.warm).await?;
        let not_before = crate::domain::now();
        let mut writes = WriteSet::default();
        for (_, req) in &run {
            let customer = req.customer;
            let state = carried
                .remove(&customer)
                .ok_or_else(|| Error::internal(anyhow::anyhow!("wallet {customer} not locked")))?;
            let mut w = WalletWriter::resume(txn, p, state, not_before);
            if earned_already(&mut w, req).await? {
                carried.insert(customer, w.unchanged());
                continue;
            }
            self.earn_on(&mut w, req).await?;
            let (_, state, written) = w.finish_deferred()?;
            carried.insert(customer, state);
            writes.merge(written);
        }
        writes.flush(txn, &self.events).await?;
        // Noted under the run's first event: the commit hook is told of all of them.
        self.consumed_wrote(run[0].0, carried.into_iter().collect())
            .await;
        Ok(())
    }
}

/// Those of `customers` whose wallet was merged into another's.
async fn merged_among(
    txn: &DatabaseTransaction,
    customers: impl Iterator<Item = CustomerId>,
) -> Result<HashSet<CustomerId>, Error> {
    let mut ids: Vec<Uuid> = customers.map(|c| c.0).collect();
    ids.sort();
    ids.dedup();
    let mut merged = HashSet::new();
    for chunk in ids.chunks(IDS_PER_STATEMENT) {
        let found: Vec<Uuid> = wallet::Entity::find()
            .select_only()
            .column(wallet::Column::CustomerId)
            .filter(wallet::Column::CustomerId.is_in(chunk.iter().copied()))
            .filter(wallet::Column::MergedInto.is_not_null())
            .into_tuple()
            .all(txn)
            .await?;
        merged.extend(found.into_iter().map(CustomerId));
    }
    Ok(merged)
}
