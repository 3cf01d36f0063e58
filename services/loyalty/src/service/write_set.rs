//! What one call, or one group commit of many, writes: collected in memory and flushed at
//! the end with one multi-row statement per table, so a batch costs a handful of round
//! trips whatever its size. Rows are keyed so the last state of each wins.
use crate::domain::reverse::OrderState;
use crate::domain::{CustomerId, Lot, TierChange, Transaction, Wallet};
use crate::events::LoyaltyEvents;
use crate::store::tiers;
use crate::store::{ledger as store, lots as lot_store};
use crm_platform::Error;
use crm_platform::idempotency::{self, Completion};
use crm_proto::events::event::Payload;
use sea_orm::ConnectionTrait;
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Default)]
pub(super) struct WriteSet {
    /// In chain order.
    pub transactions: Vec<Transaction>,
    pub tier_changes: Vec<TierChange>,
    /// Events about what this write did, in ledger order (appended with the rows).
    pub events: Vec<(CustomerId, Payload)>,
    lots: HashMap<Uuid, (CustomerId, Lot)>,
    orders: HashMap<(CustomerId, String), OrderState>,
    wallets: HashMap<CustomerId, Wallet>,
    responses: Vec<Completion>,
}

impl WriteSet {
    pub fn save_lot(&mut self, customer: CustomerId, lot: Lot) {
        self.lots.insert(lot.id, (customer, lot));
    }

    pub fn save_order(&mut self, customer: CustomerId, order_id: &str, o: OrderState) {
        self.orders.insert((customer, order_id.to_owned()), o);
    }

    pub fn save_wallet(&mut self, w: Wallet) {
        self.wallets.insert(w.customer, w);
    }

    pub fn respond(&mut self, c: Completion) {
        self.responses.push(c);
    }

    /// Adds `later`'s writes; where both write a row, `later`'s state wins.
    pub fn merge(&mut self, later: WriteSet) {
        self.transactions.extend(later.transactions);
        self.tier_changes.extend(later.tier_changes);
        self.events.extend(later.events);
        self.lots.extend(later.lots);
        self.orders.extend(later.orders);
        self.wallets.extend(later.wallets);
        self.responses.extend(later.responses);
    }

    /// Writes everything, the events last (after the rows they report), in `conn`'s
    /// transaction: they commit together or not at all.
    pub async fn flush(
        self,
        conn: &impl ConnectionTrait,
        events: &LoyaltyEvents,
    ) -> Result<(), Error> {
        store::append_many(conn, &self.transactions).await?;
        let lots: Vec<(CustomerId, Lot)> = self.lots.into_values().collect();
        lot_store::save_lots(conn, &lots).await?;
        let orders: Vec<_> = self.orders.into_iter().collect();
        lot_store::save_orders(conn, &orders).await?;
        tiers::insert_many(conn, &self.tier_changes).await?;
        let wallets: Vec<Wallet> = self.wallets.into_values().collect();
        store::save_wallets(conn, &wallets).await?;
        events.append(conn, self.events).await?;
        idempotency::complete_many(conn, &self.responses).await
    }
}
