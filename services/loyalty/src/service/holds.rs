//! Two-phase redemption: hold, capture (all or part), release; expired holds are released
//! by the expiry job. The rules are [`crate::domain::hold`]'s.
use super::writer::WalletWriter;
use super::{Begun, HoldOutcome, LoyaltyService, Mutation};
use crate::domain::{CustomerId, Hold, Transaction, hold};
use crate::error;
use crate::events::produce;
use crate::store::lots as lot_store;
use crm_platform::Error;
use crm_platform::idempotency::IdempotencyKey;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use uuid::Uuid;

impl LoyaltyService {
    pub async fn hold(
        &self,
        key: &IdempotencyKey,
        customer: CustomerId,
        points: i64,
        order_id: &str,
        timeout_secs: Option<i64>,
    ) -> Result<HoldOutcome, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let p = self.program();
        let customer = self.survivor_of(&txn, customer).await?;
        let mut w = WalletWriter::open(&txn, p, customer, crate::domain::now()).await?;
        let (hold, t) = hold::place(p, &mut w.state, points, order_id, timeout_secs)?;
        lot_store::insert_hold(&txn, &hold).await?;
        let m = self.hold_outcome(hold, t, w).await?;
        self.commit(txn, key, m).await
    }

    /// Captures `points` of the hold (`None`: all); the rest goes back to the wallet.
    pub async fn capture(
        &self,
        key: &IdempotencyKey,
        customer: CustomerId,
        hold_id: Uuid,
        points: Option<i64>,
    ) -> Result<HoldOutcome, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let p = self.program();
        let customer = self.survivor_of(&txn, customer).await?;
        let mut w = WalletWriter::open(&txn, p, customer, crate::domain::now()).await?;
        let mut hold = find_hold(&txn, customer, hold_id).await?;
        w.load_lots(&hold.lots).await?;
        let order = w.order_if_any(&hold.order_id).await?;
        let applied = hold::capture(p, &mut w.state, &mut hold, points, order)?;
        w.publish(produce::redeemed(&applied.transaction));
        w.save_order(&hold.order_id, applied.order);
        lot_store::save_hold(&txn, &hold).await?;
        let m = self.hold_outcome(hold, applied.transaction, w).await?;
        self.commit(txn, key, m).await
    }

    pub async fn release(
        &self,
        key: &IdempotencyKey,
        customer: CustomerId,
        hold_id: Uuid,
    ) -> Result<HoldOutcome, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let p = self.program();
        let customer = self.survivor_of(&txn, customer).await?;
        let mut w = WalletWriter::open(&txn, p, customer, crate::domain::now()).await?;
        let mut hold = find_hold(&txn, customer, hold_id).await?;
        w.load_lots(&hold.lots).await?;
        let t = hold::release(p, &mut w.state, &mut hold)?;
        lot_store::save_hold(&txn, &hold).await?;
        let m = self.hold_outcome(hold, t, w).await?;
        self.commit(txn, key, m).await
    }

    /// Writes the wallet and answers with the hold, its transaction and the new balance.
    async fn hold_outcome(
        &self,
        hold: Hold,
        transaction: Transaction,
        w: WalletWriter<'_, DatabaseTransaction>,
    ) -> Result<Mutation<HoldOutcome>, Error> {
        let now = w.state.now;
        let snapshot = w.finish(&self.events).await?;
        Ok(Mutation {
            resource: hold.name(),
            touched: vec![hold.customer],
            value: HoldOutcome {
                hold,
                transaction,
                balance: snapshot.balance(self.program(), now),
            },
        })
    }
}

/// The hold, if it belongs to `customer`.
async fn find_hold(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    id: Uuid,
) -> Result<Hold, Error> {
    lot_store::find_hold(conn, id)
        .await?
        .filter(|h| h.customer == customer)
        .ok_or_else(|| error::hold_not_found(&crate::domain::hold_name(customer, id)))
}
