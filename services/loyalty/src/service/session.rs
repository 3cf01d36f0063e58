//! The single-wallet writes (Earn, Redeem, Adjust) of one database transaction: one call's,
//! or a whole group commit's. Reads happen once per wallet; writes are flushed together.
use super::write_set::WriteSet;
use super::writer::{Carried, WalletWriter};
use super::{Adjust, EarnRequest, LoyaltyService, Posted, Redeem};
use crate::domain::CustomerId;
use crate::events::LoyaltyEvents;
use crm_platform::Error;
use crm_platform::audit::AccessRecord;
use crm_platform::idempotency::{self, Completion, IdempotencyKey};
use sea_orm::DatabaseTransaction;
use std::collections::HashMap;

/// A write that touches exactly one wallet.
#[derive(Debug, Clone)]
pub(super) enum Write {
    Earn(EarnRequest),
    Redeem(Redeem),
    /// With its access record (recorded in the write's transaction).
    Adjust(Adjust, AccessRecord),
}

impl Write {
    pub fn customer(&self) -> CustomerId {
        match self {
            Write::Earn(r) => r.customer,
            Write::Redeem(r) => r.customer,
            Write::Adjust(a, _) => a.customer,
        }
    }
}

#[derive(Default)]
pub(super) struct Session {
    carried: HashMap<CustomerId, Carried>,
    writes: WriteSet,
    /// Wallets to drop from the cache once the transaction has committed.
    pub touched: Vec<CustomerId>,
    /// Access records of the adjustments applied.
    access: Vec<AccessRecord>,
}

impl Session {
    /// A session over wallets locked and read in advance (see `writer::open_many`).
    pub fn preloaded(carried: HashMap<CustomerId, Carried>) -> Self {
        Self {
            carried,
            ..Self::default()
        }
    }

    /// The wallets' states after everything applied (valid once the transaction commits).
    pub fn into_carried(self) -> HashMap<CustomerId, Carried> {
        self.carried
    }

    /// Writes everything applied so far (inside the caller's transaction).
    pub async fn flush(
        &mut self,
        txn: &DatabaseTransaction,
        events: &LoyaltyEvents,
    ) -> Result<(), Error> {
        std::mem::take(&mut self.writes).flush(txn, events).await?;
        crm_platform::audit::record_in(txn, std::mem::take(&mut self.access)).await
    }
}

impl LoyaltyService {
    /// Applies `w` in `txn` as part of `session`: claims the key, then runs the write on
    /// the wallet (locked and read on first use in the session). Nothing is stored until
    /// [`Session::flush`]; after an error the transaction must be rolled back.
    pub(super) async fn apply(
        &self,
        txn: &DatabaseTransaction,
        session: &mut Session,
        key: &IdempotencyKey,
        w: &Write,
    ) -> Result<Posted, Error> {
        if let Some(previous) = idempotency::claim(txn, key).await? {
            return Ok(previous);
        }
        self.apply_claimed(txn, session, key, w).await
    }

    /// [`Self::apply`] for a key claimed already.
    pub(super) async fn apply_claimed(
        &self,
        txn: &DatabaseTransaction,
        session: &mut Session,
        key: &IdempotencyKey,
        w: &Write,
    ) -> Result<Posted, Error> {
        let customer = w.customer();
        let p = self.program();
        let not_before = crate::domain::now();
        let mut writer = match session.carried.remove(&customer) {
            Some(c) => WalletWriter::resume(txn, p, c, not_before),
            None => WalletWriter::open_with(txn, p, customer, not_before, &self.warm).await?,
        };
        let transaction = match w {
            Write::Earn(r) => self.earn_on(&mut writer, r).await?,
            Write::Redeem(r) => self.redeem_on(&mut writer, r).await?,
            Write::Adjust(a, _) => self.adjust_on(&mut writer, a)?,
        };
        let now = writer.state.now;
        let (snapshot, carried, writes) = writer.finish_deferred()?;
        session.carried.insert(customer, carried);
        session.writes.merge(writes);
        let value = Posted {
            transaction,
            balance: snapshot.balance(p, now),
        };
        session
            .writes
            .respond(Completion::new(key, &customer.name(), &value)?);
        session.touched.push(customer);
        if let Write::Adjust(_, access) = w {
            // About the wallet written (a merged customer's adjustment lands on its survivor).
            session
                .access
                .push(access.about(customer.name(), customer.0));
        }
        Ok(value)
    }
}
