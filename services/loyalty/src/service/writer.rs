//! Loads and stores one locked wallet. The rules of a write (lot consumption, chained
//! transactions, the balance limit, tier recomputation) are the domain's, on a
//! [`WalletState`]; a writer reads that state under the wallet lock, reads orders and
//! emptied lots on demand, and collects what the write changed in a [`WriteSet`], flushed
//! with one multi-row statement per table. Within a group commit the next call on the same
//! wallet resumes from the [`Carried`] state instead of reading rows the batch has not
//! written yet.
use super::write_set::WriteSet;
use crate::domain::lots::Consumption;
use crate::domain::reverse::OrderState;
use crate::domain::{CustomerId, Program, Snapshot, Wallet, WalletState};
use crate::events::{LoyaltyEvents, produce};
use crate::store::{ledger as store, lots as lot_store};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_proto::events::event::Payload;
use sea_orm::ConnectionTrait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A wallet's state after a write, for the next write on it in the same transaction.
#[derive(Debug, Clone)]
pub(super) struct Carried {
    state: WalletState,
    /// Orders read or written so far (`None`: the order has no row).
    orders: HashMap<String, Option<OrderState>>,
}

/// Wallet states as last committed by this process, shared by every write path, so a hot
/// wallet's lots and tier history are not read again for each call.
#[derive(Clone, Default)]
pub(super) struct WarmWallets(Arc<Mutex<HashMap<CustomerId, Carried>>>);

/// Wallet states kept before the map starts afresh.
const WARM_WALLETS: usize = 4096;

impl WarmWallets {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<CustomerId, Carried>> {
        // A panic while holding the lock leaves a map of whole entries: still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state kept for `locked`'s wallet, if the row has not changed since.
    fn matching(&self, locked: &Wallet) -> Option<Carried> {
        self.map()
            .get(&locked.customer)
            .filter(|c| c.state.wallet == *locked)
            .cloned()
    }

    /// Keeps states written by a transaction that has committed.
    pub fn keep(&self, committed: HashMap<CustomerId, Carried>) {
        let mut map = self.map();
        if map.len() + committed.len() > WARM_WALLETS {
            map.clear();
        }
        map.extend(committed);
    }
}

/// Locks wallets (in one statement) and reads those whose state `warm` does not hold
/// already: at most three statements for a whole group commit.
/// `customers` must be sorted (the global lock order).
///
/// A warm state is used only when the locked row still equals its wallet: every change to
/// a wallet's lots, orders or qualifying history appends to its chain, which moves the
/// row's sequence and hash, so an equal row means nothing changed since.
pub(super) async fn open_many(
    conn: &impl ConnectionTrait,
    program: &Program,
    customers: &[CustomerId],
    warm: &WarmWallets,
) -> Result<HashMap<CustomerId, Carried>, Error> {
    if customers.is_empty() {
        return Ok(HashMap::new());
    }
    let wallets = store::lock_wallets(conn, customers, program.base_tier()).await?;
    super::merge::refuse_closed(&wallets)?;
    let now = crate::domain::now();
    let mut out = HashMap::with_capacity(wallets.len());
    let mut cold = Vec::new();
    for wallet in wallets {
        match warm.matching(&wallet) {
            Some(c) => {
                out.insert(wallet.customer, c);
            }
            None => cold.push(wallet),
        }
    }
    let ids: Vec<CustomerId> = cold.iter().map(|w| w.customer).collect();
    if !ids.is_empty() {
        let mut lots = lot_store::live_many(conn, &ids).await?;
        let mut qualifying =
            store::qualifying_since_many(conn, &ids, program.write_history_from(now)).await?;
        for wallet in cold {
            let c = wallet.customer;
            let carried = Carried {
                state: WalletState::new(
                    wallet,
                    lots.remove(&c).unwrap_or_default(),
                    qualifying.remove(&c).unwrap_or_default(),
                    now,
                ),
                orders: HashMap::new(),
            };
            out.insert(c, carried);
        }
    }
    Ok(out)
}

/// Loads what a balance is computed from (outside of any lock).
pub(super) async fn load_snapshot(
    conn: &impl ConnectionTrait,
    p: &Program,
    customer: CustomerId,
) -> Result<Snapshot, Error> {
    let now = crate::domain::now();
    let wallet = store::find_wallet(conn, customer)
        .await?
        .unwrap_or_else(|| Wallet::empty(customer, p.base_tier()));
    Ok(Snapshot {
        wallet,
        lots: lot_store::live(conn, customer).await?,
        qualifying: store::qualifying_since(conn, customer, p.qualifying_history_from(now)).await?,
    })
}

/// One wallet locked for writing in a database transaction: the domain's [`WalletState`]
/// plus what it reads on demand (orders, emptied lots) and what it writes at the end.
pub(super) struct WalletWriter<'a, C: ConnectionTrait> {
    conn: &'a C,
    program: &'a Program,
    pub state: WalletState,
    orders: HashMap<String, Option<OrderState>>,
    writes: WriteSet,
}

impl<'a, C: ConnectionTrait> WalletWriter<'a, C> {
    /// Locks (creating if needed) the wallet and loads its live lots. The writer's clock
    /// is read after the lock is granted (and never before `not_before`), so a wallet's
    /// transactions are in time order.
    pub async fn open(
        conn: &'a C,
        program: &'a Program,
        customer: CustomerId,
        not_before: DateTime<Utc>,
    ) -> Result<Self, Error> {
        Self::open_with(conn, program, customer, not_before, &WarmWallets::default()).await
    }

    /// [`Self::open`], reusing the state `warm` holds when the wallet has not changed.
    pub async fn open_with(
        conn: &'a C,
        program: &'a Program,
        customer: CustomerId,
        not_before: DateTime<Utc>,
        warm: &WarmWallets,
    ) -> Result<Self, Error> {
        let carried = open_many(conn, program, &[customer], warm)
            .await?
            .remove(&customer)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("wallet {customer} not locked")))?;
        Ok(Self::resume(conn, program, carried, not_before))
    }

    /// Continues from a wallet's state read (or left by an earlier write) in this
    /// transaction, with the wallet locked already.
    pub fn resume(
        conn: &'a C,
        program: &'a Program,
        c: Carried,
        not_before: DateTime<Utc>,
    ) -> Self {
        Self {
            conn,
            program,
            state: c.state.continued(crate::domain::now().max(not_before)),
            orders: c.orders,
            writes: WriteSet::default(),
        }
    }

    pub fn customer(&self) -> CustomerId {
        self.state.customer()
    }

    /// The order's state as of this transaction.
    pub async fn order(&mut self, order_id: &str) -> Result<Option<OrderState>, Error> {
        if let Some(o) = self.orders.get(order_id) {
            return Ok(o.clone());
        }
        let o = lot_store::find_order(self.conn, self.customer(), order_id).await?;
        self.orders.insert(order_id.to_owned(), o.clone());
        Ok(o)
    }

    /// The order's state if `order_id` names one (empty: no order).
    pub async fn order_if_any(&mut self, order_id: &str) -> Result<Option<OrderState>, Error> {
        if order_id.is_empty() {
            return Ok(None);
        }
        self.order(order_id).await
    }

    /// The wallet's purchase orders whose purchase time is after `t`, as of this
    /// transaction (what this writer read or wrote over what is stored).
    pub async fn purchases_after(
        &mut self,
        t: DateTime<Utc>,
    ) -> Result<Vec<(String, OrderState)>, Error> {
        let mut found: HashMap<String, OrderState> =
            lot_store::purchases_after(self.conn, self.customer(), t)
                .await?
                .into_iter()
                .filter(|(id, _)| !self.orders.contains_key(id))
                .collect();
        for (id, o) in &self.orders {
            if let Some(o) = o
                && o.base_points.is_some()
                && o.earn_time.is_some_and(|e| e > t)
            {
                found.insert(id.clone(), o.clone());
            }
        }
        Ok(found.into_iter().collect())
    }

    /// Keeps `o` as the order's state, to be written with the rest.
    pub fn save_order(&mut self, order_id: &str, o: Option<OrderState>) {
        if let Some(o) = o {
            self.writes.save_order(self.customer(), order_id, o.clone());
            self.orders.insert(order_id.to_owned(), Some(o));
        }
    }

    /// Loads the lots of `taken` that ran empty, so points can be given back to them.
    pub async fn load_lots(&mut self, taken: &[Consumption]) -> Result<(), Error> {
        let missing = self.state.missing_lots(taken);
        let loaded = lot_store::by_ids(self.conn, &missing).await?;
        self.state.add_loaded(loaded);
        Ok(())
    }

    /// Publishes `event` about this wallet with this write (appended to the outbox with
    /// its rows, in the order published; the tier change, if any, comes last).
    pub fn publish(&mut self, event: Payload) {
        self.writes.events.push((self.customer(), event));
    }

    /// Writes what this write changed (lots, orders, wallet, tier change, transactions,
    /// events) and returns the new snapshot.
    pub async fn finish(self, events: &LoyaltyEvents) -> Result<Snapshot, Error> {
        let conn = self.conn;
        let (snapshot, _, writes) = self.finish_deferred()?;
        writes.flush(conn, events).await?;
        Ok(snapshot)
    }

    /// The state to resume from when this writer wrote nothing.
    pub fn unchanged(self) -> Carried {
        Carried {
            state: self.state,
            orders: self.orders,
        }
    }

    /// Like [`Self::finish`] but leaves the writes to the caller, with the state the next
    /// write on this wallet in the same transaction resumes from.
    pub fn finish_deferred(mut self) -> Result<(Snapshot, Carried, WriteSet), Error> {
        let cause = self.state.posted().last().cloned();
        let finished = self.state.finish(self.program)?;
        if let Some(c) = &finished.tier_change {
            let event = produce::tier_changed(self.program, c, cause.as_ref());
            self.publish(event);
        }
        let customer = self.customer();
        let mut writes = self.writes;
        writes.transactions = finished.transactions;
        for l in finished.lots {
            writes.save_lot(customer, l);
        }
        writes.tier_changes.extend(finished.tier_change);
        writes.save_wallet(self.state.wallet.clone());
        Ok((
            self.state.snapshot(),
            Carried {
                state: self.state,
                orders: self.orders,
            },
            writes,
        ))
    }
}
