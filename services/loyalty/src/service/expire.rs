//! Expiry: timed-out holds go back to the wallet, then due lots move to breakage. Runs per
//! wallet under its lock and sets the lots' remaining points to zero, so each point expires
//! exactly once however often (and wherever) the job runs.
use super::isolation::guarded;
use super::writer::WalletWriter;
use super::{Begun, LoyaltyService, Mutation};
use crate::domain::expire::expire_due_lots;
use crate::domain::{CustomerId, hold};
use crate::events::produce;
use crate::store::lots as lot_store;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::idempotency::IdempotencyKey;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpireOutcome {
    pub expired_points: i64,
    pub expired_lots: i64,
    pub expired_holds: i64,
    pub customers: i64,
}

impl ExpireOutcome {
    /// Totals over many wallets: counts, each far below `i64::MAX` (saturating, never wrapping).
    fn add(&mut self, o: &ExpireOutcome) {
        self.expired_points = self.expired_points.saturating_add(o.expired_points);
        self.expired_lots = self.expired_lots.saturating_add(o.expired_lots);
        self.expired_holds = self.expired_holds.saturating_add(o.expired_holds);
        self.customers = self.customers.saturating_add(o.customers);
    }
}

impl LoyaltyService {
    /// Expires one wallet inside `conn`'s transaction: timed-out holds first, then due lots.
    async fn expire_wallet<C: ConnectionTrait>(
        &self,
        conn: &C,
        customer: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<ExpireOutcome, Error> {
        let p = self.program();
        let mut w = WalletWriter::open(conn, p, customer, now).await?;
        let now = w.state.now;
        let mut out = ExpireOutcome::default();
        for mut h in lot_store::active_holds(conn, customer).await? {
            if h.is_expired(now) {
                w.load_lots(&h.lots).await?;
                hold::expire(p, &mut w.state, &mut h)?;
                lot_store::save_hold(conn, &h).await?;
                out.expired_holds += 1;
            }
        }
        let lots = expire_due_lots(p, &mut w.state)?;
        if let Some(e) = &lots {
            w.publish(produce::expired(&e.transaction, e.points));
            out.expired_points = e.points;
            out.expired_lots = i64::try_from(e.lots).unwrap_or(i64::MAX);
        }
        w.finish(&self.events).await?;
        out.customers = i64::from(lots.is_some() || out.expired_holds > 0);
        Ok(out)
    }

    /// Expires `customer` in a transaction of its own and drops it from the cache.
    async fn expire_alone(
        &self,
        customer: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<ExpireOutcome, Error> {
        let txn = self.core.db.begin().await?;
        let o = self.expire_wallet(&txn, customer, now).await?;
        txn.commit().await?;
        self.invalidate(&[customer]).await;
        Ok(o)
    }

    /// Every wallet with something due at `now`: customer ids a keyset page at a time, each
    /// wallet in its own short transaction under its lock, so nothing unbounded is loaded or
    /// held locked, and a point expires exactly once however many runs overlap. A wallet
    /// that fails (an error or a panic) is logged and skipped, so it cannot hold back the
    /// others; the run then ends with the first such error (the job retries it next time).
    async fn expire_all(&self, now: DateTime<Utc>) -> Result<ExpireOutcome, Error> {
        let page_size = self.cfg.ledger_page_size;
        let mut total = ExpireOutcome::default();
        let mut first_failure = None;
        let mut cursor = lot_store::DueCursor::default();
        loop {
            let (page, more) =
                lot_store::customers_due(&self.core.db, now, &mut cursor, page_size).await?;
            for c in &page {
                match guarded("wallet expiry", self.expire_alone(*c, now)).await {
                    Ok(o) => total.add(&o),
                    Err(e) => {
                        tracing::error!(customer = %c, error = %e, "wallet expiry failed; skipped");
                        first_failure.get_or_insert(e);
                    }
                }
            }
            if !more {
                break;
            }
        }
        match first_failure {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }

    /// The Expire RPC: one customer in one idempotent transaction, or every customer with
    /// something due ([`Self::expire_all`]), the outcome stored under the request id.
    pub async fn expire(
        &self,
        key: &IdempotencyKey,
        customer: Option<CustomerId>,
    ) -> Result<ExpireOutcome, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let now = crate::domain::now();
        let Some(c) = customer else {
            // The claim above refused a reused id; it is not held while the pages run (on
            // SQLite that would hold the only connection), and is taken again to store the
            // outcome. A retry after a cut runs the rest: each point expires once.
            txn.rollback().await?;
            let total = self.expire_all(now).await?;
            let txn = match self.begin(key).await? {
                Begun::Replay(previous) => return Ok(previous),
                Begun::Fresh(txn) => txn,
            };
            let m = Mutation {
                resource: String::new(),
                touched: Vec::new(),
                value: total,
            };
            return self.commit(txn, key, m).await;
        };
        let c = self.survivor_of(&txn, c).await?;
        let value = self.expire_wallet(&txn, c, now).await?;
        let m = Mutation {
            resource: c.name(),
            touched: vec![c],
            value,
        };
        self.commit(txn, key, m).await
    }

    /// The background job: every wallet with something due, each in its own transaction.
    pub async fn expire_due(&self) -> Result<ExpireOutcome, Error> {
        self.expire_all(crate::domain::now()).await
    }
}
