//! Writes to one locked wallet: lot consumption, chained transactions, tier recomputation.
use crate::domain::balance::tier_status;
use crate::domain::ledger::{GENESIS, Posting};
use crate::domain::lots::{self, Consumption, Lot};
use crate::domain::{CustomerId, Program, Snapshot, Transaction, TxKind, Wallet};
use crate::store::tiers::TierChange;
use crate::store::{ledger as store, lots as lot_store, tiers};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ConnectionTrait;
use std::collections::HashSet;
use uuid::Uuid;

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
        // A day of slack so a cached snapshot still covers the window a little later.
        qualifying: store::qualifying_since(
            conn,
            customer,
            p.window_start(now) - chrono::Duration::days(1),
        )
        .await?,
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
    changed: HashSet<Uuid>,
    created: Vec<Uuid>,
    last_tx: Option<String>,
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
        let wallet = store::lock_wallet(conn, customer, base_tier(program)).await?;
        let lots = lot_store::live(conn, customer).await?;
        let now = crate::domain::now().max(not_before);
        Ok(Self {
            conn,
            program,
            wallet,
            lots,
            now,
            changed: HashSet::new(),
            created: Vec::new(),
            last_tx: None,
        })
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
    pub async fn post(&mut self, d: Draft) -> Result<Transaction, Error> {
        let w = &mut self.wallet;
        let mut t = Transaction {
            id: d.id,
            customer: w.customer,
            sequence: w.sequence + 1,
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
        t.wallet_after = w.balance + t.wallet_delta();
        t.held_after = w.held + t.held_delta();
        if t.sum() != 0 || t.wallet_after < 0 || t.held_after < 0 {
            return Err(Error::internal(anyhow::anyhow!(
                "refusing unbalanced or negative transaction {t:?}"
            )));
        }
        t.hash = t.compute_hash();
        store::append(self.conn, &t).await?;
        w.sequence = t.sequence;
        w.last_hash = t.hash.clone();
        w.balance = t.wallet_after;
        w.held = t.held_after;
        self.last_tx = Some(t.name());
        Ok(t)
    }

    /// Writes lots and the wallet, recomputes the tier (recording a change), and returns the
    /// new snapshot. Checks that the wallet balance equals the lots' points.
    pub async fn finish(mut self) -> Result<Snapshot, Error> {
        let lot_total: i64 = self.lots.iter().map(|l| l.remaining).sum();
        if lot_total != self.wallet.balance {
            return Err(Error::internal(anyhow::anyhow!(
                "wallet {} balance {} but lots hold {lot_total}",
                self.wallet.customer,
                self.wallet.balance
            )));
        }
        let customer = self.customer();
        for l in &self.lots {
            if self.created.contains(&l.id) {
                lot_store::insert_lot(self.conn, customer, l).await?;
            } else if self.changed.contains(&l.id) {
                lot_store::set_remaining(self.conn, l.id, l.remaining).await?;
            }
        }
        let p = self.program;
        let qualifying = store::qualifying_since(
            self.conn,
            customer,
            p.window_start(self.now) - chrono::Duration::days(1),
        )
        .await?;
        let status = tier_status(p, &qualifying, self.now);
        if status.tier != self.wallet.tier {
            tiers::insert(
                self.conn,
                &TierChange {
                    id: Uuid::now_v7(),
                    customer,
                    from_tier: self.wallet.tier.clone(),
                    to_tier: status.tier.clone(),
                    qualifying_points: status.qualifying_points,
                    transaction: self.last_tx.clone().unwrap_or_default(),
                    change_time: self.now,
                },
            )
            .await?;
            self.wallet.tier = status.tier;
        }
        store::save_wallet(self.conn, &self.wallet).await?;
        self.lots.retain(|l| l.remaining > 0);
        Ok(Snapshot {
            wallet: self.wallet,
            lots: self.lots,
            qualifying,
        })
    }
}
