//! The loyalty use cases. No tonic or proto types here: the gRPC adapter parses requests into
//! these types, calls these methods and converts the results back.
//!
//! Every mutation runs in one database transaction that first claims the request id
//! (idempotency), then locks the wallet row(s) through [`writer::WalletWriter`], checks
//! "available >= debit" on the locked state, appends chained transactions and the events
//! they report (see [`crate::events`]) and commits.
mod consumed;
mod consumed_batch;
mod earn;
mod erase;
mod expire;
mod group;
mod holds;
mod isolation;
mod merge;
mod read;
mod reverse;
mod session;
mod transfer;
mod verify;
mod write_set;
mod writer;

pub use earn::{Adjust, EarnRequest, EarnSource, Redeem};
pub use expire::ExpireOutcome;
pub use merge::MAX_LOSERS;
pub use read::{BalanceAt, TxFilter};
pub use verify::{Inconsistency, Verification};

use crate::domain::{BalanceView, CustomerId, Hold, Program, Snapshot, Transaction};
use crate::events::LoyaltyEvents;
use crate::settings::LoyaltySettings;
use crate::store::ledger as store;
use crm_platform::Error;
use crm_platform::app::Core;
use crm_platform::audit::{AccessFilter, AccessRecord};
use crm_platform::cache::{Cache, Cacheable};
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::mutation::Touched;
pub use crm_platform::paging::Page;
use group::GroupCommit;
use sea_orm::{AccessMode, DatabaseTransaction, DbBackend, IsolationLevel, TransactionTrait};
use serde::{Deserialize, Serialize};
use session::{Session, Write};
use std::sync::Arc;

#[derive(Clone)]
pub struct LoyaltyService {
    core: Core,
    cfg: Arc<LoyaltySettings>,
    /// Where every ledger write appends its events, in its own transaction.
    events: LoyaltyEvents,
    /// Present when group commit is on: Earn/Redeem/Adjust go through its writers.
    group: Option<Arc<GroupCommit>>,
    warm: writer::WarmWallets,
    /// Wallets consumed events wrote, until the consumer's commit hook is told.
    uncommitted: consumed::Uncommitted,
}

/// A movement and the balance right after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    pub transaction: Transaction,
    pub balance: BalanceView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldOutcome {
    pub hold: Hold,
    pub transaction: Transaction,
    pub balance: BalanceView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReverseOutcome {
    pub transaction: Transaction,
    pub clawed_back: i64,
    pub shortfall: i64,
    pub restored: i64,
    pub balance: BalanceView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferOutcome {
    pub debit: Transaction,
    pub credit: Transaction,
    pub from_balance: BalanceView,
}

impl Cacheable for Snapshot {
    const KIND: &'static str = "wallet";
}

impl LoyaltyService {
    pub fn new(core: Core, events: LoyaltyEvents, cfg: LoyaltySettings) -> Self {
        Self {
            core,
            cfg: Arc::new(cfg),
            events,
            group: None,
            warm: writer::WarmWallets::default(),
            uncommitted: consumed::Uncommitted::default(),
        }
    }

    /// Starts the group-commit writers when the settings ask for them (needs a runtime).
    pub fn with_group_commit(mut self) -> Self {
        if self.cfg.group_commit {
            self.group = Some(Arc::new(GroupCommit::start(&self)));
        }
        self
    }

    /// Earns points for a purchase, an action or as goodwill.
    pub async fn earn(&self, key: &IdempotencyKey, req: EarnRequest) -> Result<Posted, Error> {
        self.write(key, Write::Earn(req)).await
    }

    /// Spends available points FEFO.
    pub async fn redeem(&self, key: &IdempotencyKey, r: Redeem) -> Result<Posted, Error> {
        self.write(key, Write::Redeem(r)).await
    }

    /// A manual correction, recorded in the access audit (`access`) in its transaction.
    pub async fn adjust(
        &self,
        key: &IdempotencyKey,
        a: Adjust,
        access: AccessRecord,
    ) -> Result<Posted, Error> {
        self.write(key, Write::Adjust(a, access)).await
    }

    /// Lists access records (`ListAccessRecords`).
    pub async fn list_access(
        &self,
        filter: &AccessFilter,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<AccessRecord>, Error> {
        let limit = self.core.paging.limit(page_size);
        crm_platform::audit::list(&self.core.db, &self.core.tokens, filter, limit, page_token).await
    }

    /// Runs a single-wallet write; a write for a merged customer is run again on the
    /// survivor its closed wallet names.
    async fn write(&self, key: &IdempotencyKey, mut w: Write) -> Result<Posted, Error> {
        for _ in 0..crate::domain::merge::MAX_HOPS {
            let result = self.write_once(key, w.clone()).await;
            match result
                .as_ref()
                .err()
                .and_then(crate::error::merged_survivor)
            {
                Some(survivor) => w = merge::redirected(&w, survivor),
                None => return result,
            }
        }
        self.write_once(key, w).await
    }

    /// Runs a single-wallet write in its own transaction, or hands it to group commit.
    async fn write_once(&self, key: &IdempotencyKey, w: Write) -> Result<Posted, Error> {
        if let Some(group) = &self.group {
            return group.submit(key.clone(), w).await;
        }
        isolation::guarded("ledger write", self.apply_alone(key, &w)).await
    }

    /// Applies `w` in a transaction of its own and drops the touched wallets from the cache.
    async fn apply_alone(&self, key: &IdempotencyKey, w: &Write) -> Result<Posted, Error> {
        let txn = self.core.db.begin().await?;
        let mut session = Session::default();
        let value = self.apply(&txn, &mut session, key, w).await?;
        session.flush(&txn, &self.events).await?;
        txn.commit().await?;
        self.invalidate(&session.touched).await;
        self.warm.keep(session.into_carried());
        Ok(value)
    }

    pub fn cache(&self) -> &Cache {
        &self.core.cache
    }

    pub fn program(&self) -> &Program {
        &self.cfg.program
    }

    fn page_size(&self, requested: u32) -> u64 {
        self.core.paging.limit(requested)
    }

    /// A read-only transaction that sees one consistent state (REPEATABLE READ on
    /// PostgreSQL; SQLite transactions are serialisable already).
    async fn read_txn(&self) -> Result<DatabaseTransaction, Error> {
        Ok(match self.core.db.get_database_backend() {
            DbBackend::Postgres => {
                self.core
                    .db
                    .begin_with_config(
                        Some(IsolationLevel::RepeatableRead),
                        Some(AccessMode::ReadOnly),
                    )
                    .await?
            }
            _ => self.core.db.begin().await?,
        })
    }

    /// What a balance is computed from, through the cache (writes invalidate it; balances
    /// are computed from it at read time, so pending points turn available on time).
    async fn snapshot(&self, customer: CustomerId) -> Result<Arc<Snapshot>, Error> {
        let loaded = self
            .core
            .cache
            .get_or_load(&customer.0.to_string(), move || async move {
                let txn = self.read_txn().await?;
                let s = writer::load_snapshot(&txn, self.program(), customer).await?;
                txn.commit().await?;
                Ok::<_, Error>(Some(s))
            })
            .await?;
        loaded.ok_or_else(|| Error::internal(anyhow::anyhow!("snapshot load returned nothing")))
    }

    /// The balance of `customer`'s wallet, or of the survivor's when it was merged.
    pub async fn balance(&self, customer: CustomerId) -> Result<BalanceView, Error> {
        let s = self.open_snapshot(customer).await?;
        Ok(s.balance(self.program(), crate::domain::now()))
    }

    crm_platform::write_path!(core.writes, CustomerId);

    /// The wallet row as stored (tests compare it with the chain).
    pub async fn stored_wallet(
        &self,
        customer: CustomerId,
    ) -> Result<Option<crate::domain::Wallet>, Error> {
        store::find_wallet(&self.core.db, customer).await
    }
}

/// A ledger mutation: its response, resource and the wallets to drop from the cache.
type Mutation<T> = crm_platform::mutation::Mutation<T, CustomerId>;

impl Touched for CustomerId {
    async fn invalidate(&self, cache: &Cache) {
        cache.invalidate::<Snapshot>(&self.0.to_string()).await;
    }
}
