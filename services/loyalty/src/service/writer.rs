//! Writes to one locked wallet: lot consumption, chained transactions, tier recomputation.
//!
//! A writer keeps the wallet, its live lots, qualifying history and touched orders in
//! memory and collects what it writes in a [`WriteSet`], flushed with one multi-row
//! statement per table. Within a group commit the next call on the same wallet resumes
//! from the [`Carried`] state instead of reading rows the batch has not written yet.
use super::write_set::WriteSet;
use crate::domain::balance::tier_status;
use crate::domain::ledger::{GENESIS, Posting};
use crate::domain::lots::{self, Consumption, Lot};
use crate::domain::reverse::OrderState;
use crate::domain::{CustomerId, Program, Snapshot, Transaction, TxKind, Wallet, points};
use crate::error;
use crate::store::tiers::TierChange;
use crate::store::{ledger as store, lots as lot_store};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ConnectionTrait;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// A wallet's state after a write, for the next write on it in the same transaction.
#[derive(Debug, Clone)]
pub(super) struct Carried {
    wallet: Wallet,
    lots: Vec<Lot>,
    qualifying: Vec<(DateTime<Utc>, i64)>,
    orders: HashMap<String, Option<OrderState>>,
    now: DateTime<Utc>,
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
            .filter(|c| c.wallet == *locked)
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
    let wallets = store::lock_wallets(conn, customers, base_tier(program)).await?;
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
            store::qualifying_since_many(conn, &ids, qualifying_from(program, now)).await?;
        for wallet in cold {
            let c = wallet.customer;
            let carried = Carried {
                lots: lots.remove(&c).unwrap_or_default(),
                qualifying: qualifying.remove(&c).unwrap_or_default(),
                orders: HashMap::new(),
                wallet,
                now,
            };
            out.insert(c, carried);
        }
    }
    Ok(out)
}

/// What a new transaction says; the writer fills in chain position, balances and hash.
#[derive(Debug, Clone)]
pub(super) struct Draft {
    pub id: Uuid,
    pub kind: TxKind,
    pub postings: Vec<Posting>,
    pub order_id: String,
    pub reason: String,
    pub actor: String,
    pub shortfall: i64,
    pub related: String,
    pub qualifying_delta: i64,
    pub qualify_time: Option<DateTime<Utc>>,
}

impl Draft {
    pub fn new(kind: TxKind, postings: impl IntoIterator<Item = Posting>) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind,
            postings: postings.into_iter().filter(|p| p.amount != 0).collect(),
            order_id: String::new(),
            reason: String::new(),
            actor: String::new(),
            shortfall: 0,
            related: String::new(),
            qualifying_delta: 0,
            qualify_time: None,
        }
    }
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
        .unwrap_or_else(|| Wallet::empty(customer, base_tier(p)));
    Ok(Snapshot {
        wallet,
        lots: lot_store::live(conn, customer).await?,
        qualifying: store::qualifying_since(conn, customer, qualifying_from(p, now)).await?,
    })
}

pub(super) fn base_tier(p: &Program) -> &str {
    p.tiers.first().map(|t| t.code.as_str()).unwrap_or("")
}

/// One wallet locked for writing in a database transaction.
pub(super) struct WalletWriter<'a, C: ConnectionTrait> {
    conn: &'a C,
    program: &'a Program,
    pub wallet: Wallet,
    pub lots: Vec<Lot>,
    pub now: DateTime<Utc>,
    /// (qualify time, delta) from a day before the qualifying window on.
    pub qualifying: Vec<(DateTime<Utc>, i64)>,
    orders: HashMap<String, Option<OrderState>>,
    changed: HashSet<Uuid>,
    created: Vec<Uuid>,
    last_tx: Option<String>,
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
            wallet: c.wallet,
            lots: c.lots,
            now: crate::domain::now().max(not_before).max(c.now),
            qualifying: c.qualifying,
            orders: c.orders,
            changed: HashSet::new(),
            created: Vec::new(),
            last_tx: None,
            writes: WriteSet::default(),
        }
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

    pub fn save_order(&mut self, order_id: &str, o: OrderState) {
        self.writes.save_order(self.customer(), order_id, o.clone());
        self.orders.insert(order_id.to_owned(), Some(o));
    }

    pub fn customer(&self) -> CustomerId {
        self.wallet.customer
    }

    pub fn available(&self) -> i64 {
        lots::available(&self.lots, self.now)
    }

    /// Takes up to `want` points, FEFO, from the lots `eligible` picks.
    pub fn consume(&mut self, want: i64, eligible: impl Fn(&Lot) -> bool) -> Vec<Consumption> {
        let taken = lots::consume(&mut self.lots, want, eligible);
        self.changed.extend(taken.iter().map(|c| c.lot));
        taken
    }

    /// Gives `points` of `taken` back to their lots (loading lots that had run empty).
    pub async fn give_back(
        &mut self,
        taken: &[Consumption],
        points: i64,
    ) -> Result<Vec<Consumption>, Error> {
        let missing: Vec<Uuid> = taken
            .iter()
            .map(|c| c.lot)
            .filter(|id| !self.lots.iter().any(|l| l.id == *id))
            .collect();
        self.lots
            .extend(lot_store::by_ids(self.conn, &missing).await?);
        let back = lots::give_back(&mut self.lots, taken, points);
        self.changed.extend(back.iter().map(|c| c.lot));
        Ok(back)
    }

    /// A new lot of `points` earned now.
    pub fn add_lot(
        &mut self,
        points: i64,
        order_id: &str,
        available_time: DateTime<Utc>,
        expire_time: DateTime<Utc>,
    ) {
        let lot = Lot {
            id: Uuid::now_v7(),
            order_id: order_id.to_owned(),
            earn_time: self.now,
            available_time,
            expire_time,
            amount: points,
            remaining: points,
        };
        self.created.push(lot.id);
        self.lots.push(lot);
    }

    /// Appends a transaction to the wallet's chain. Refuses anything that would leave the
    /// wallet or held balance negative or the postings unbalanced.
    pub fn post(&mut self, d: Draft) -> Result<Transaction, Error> {
        let w = &mut self.wallet;
        let mut t = Transaction {
            id: d.id,
            customer: w.customer,
            sequence: w
                .sequence
                .checked_add(1)
                .ok_or_else(|| error::overflow("the chain's sequence"))?,
            kind: d.kind,
            postings: d.postings,
            order_id: d.order_id,
            reason: d.reason,
            actor: d.actor,
            shortfall: d.shortfall,
            related: d.related,
            qualifying_delta: d.qualifying_delta,
            qualify_time: d.qualify_time.unwrap_or(self.now),
            wallet_after: 0,
            held_after: 0,
            create_time: self.now,
            prev_hash: if w.sequence == 0 {
                GENESIS.to_owned()
            } else {
                w.last_hash.clone()
            },
            hash: String::new(),
        };
        if t.sum() != 0 {
            return Err(Error::internal(anyhow::anyhow!(
                "refusing unbalanced transaction {t:?}"
            )));
        }
        let limits = &self.program.limits;
        let refused = || error::balance_limit(t.customer, limits.max_balance);
        let (wallet_after, held_after) = t.balances_after(w.balance, w.held).ok_or_else(refused)?;
        if wallet_after < 0 || held_after < 0 {
            return Err(Error::internal(anyhow::anyhow!(
                "refusing negative balance {t:?}"
            )));
        }
        // Only a movement that gives the customer more points can exceed the limit (a wallet
        // above it after the limit was lowered can still spend, expire and release).
        let before = i128::from(w.balance) + i128::from(w.held);
        let after = i128::from(wallet_after) + i128::from(held_after);
        if after > before && after > i128::from(limits.max_balance) {
            return Err(refused());
        }
        t.wallet_after = wallet_after;
        t.held_after = held_after;
        t.hash = t.compute_hash();
        if t.qualifying_delta != 0 && t.qualify_time >= qualifying_from(self.program, self.now) {
            self.qualifying.push((t.qualify_time, t.qualifying_delta));
        }
        self.writes.transactions.push(t.clone());
        w.sequence = t.sequence;
        w.last_hash = t.hash.clone();
        w.balance = t.wallet_after;
        w.held = t.held_after;
        self.last_tx = Some(t.name());
        Ok(t)
    }

    /// Writes what this writer collected (lots, wallet, tier change, transactions) and
    /// returns the new snapshot. Checks that the wallet balance equals the lots' points.
    pub async fn finish(self) -> Result<Snapshot, Error> {
        let conn = self.conn;
        let (snapshot, _, writes) = self.finish_deferred()?;
        writes.flush(conn).await?;
        Ok(snapshot)
    }

    /// Like [`Self::finish`] but leaves the writes to the caller, with the state the next
    /// write on this wallet in the same transaction resumes from.
    pub fn finish_deferred(mut self) -> Result<(Snapshot, Carried, WriteSet), Error> {
        let lot_total = points::wide_sum(self.lots.iter().map(|l| l.remaining));
        if lot_total != i128::from(self.wallet.balance) {
            return Err(Error::internal(anyhow::anyhow!(
                "wallet {} balance {} but lots hold {lot_total}",
                self.wallet.customer,
                self.wallet.balance
            )));
        }
        let customer = self.customer();
        for l in &self.lots {
            if self.created.contains(&l.id) || self.changed.contains(&l.id) {
                self.writes.save_lot(customer, l.clone());
            }
        }
        let p = self.program;
        let status = tier_status(p, &self.qualifying, self.now);
        if status.tier != self.wallet.tier {
            self.writes.tier_changes.push(TierChange {
                id: Uuid::now_v7(),
                customer,
                from_tier: self.wallet.tier.clone(),
                to_tier: status.tier.clone(),
                qualifying_points: status.qualifying_points,
                transaction: self.last_tx.clone().unwrap_or_default(),
                change_time: self.now,
            });
            self.wallet.tier = status.tier;
        }
        self.writes.save_wallet(self.wallet.clone());
        self.lots.retain(|l| l.remaining > 0);
        let carried = Carried {
            wallet: self.wallet.clone(),
            lots: self.lots.clone(),
            qualifying: self.qualifying.clone(),
            orders: self.orders,
            now: self.now,
        };
        Ok((
            Snapshot {
                wallet: self.wallet,
                lots: self.lots,
                qualifying: self.qualifying,
            },
            carried,
            self.writes,
        ))
    }
}

/// Adds `by` to a lifetime counter or order total; beyond `i64` is refused, never wrapped.
pub(super) fn add_to(counter: &mut i64, by: i64, what: &str) -> Result<(), Error> {
    *counter = points::add(*counter, by).map_err(|_| error::overflow(what))?;
    Ok(())
}

/// Qualifying history starts a day before the window, so a snapshot still covers the window
/// a little later.
fn qualifying_from(p: &Program, now: DateTime<Utc>) -> DateTime<Utc> {
    p.window_start(now)
        .checked_sub_signed(chrono::Duration::days(1))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}
