//! Ledger writes asked for by other services' events ([`crate::events::consume`]), inside
//! the consumer's transaction (its inbox row commits with them): no request id of their
//! own, the inbox makes them exactly once. Their effects and events are those of the same
//! writes made through the RPCs.
//!
//! The consumer's commit hook finishes them: each write notes the wallets it wrote under
//! its event's id ([`Uncommitted`]) and drops them from the cache at once; once the
//! transaction has committed, [`LoyaltyService::consumed_committed`] drops them again (a
//! read between the first drop and the commit may have cached the state before) and keeps
//! their new states warm for the next write.
use super::LoyaltyService;
use super::writer::{Carried, WalletWriter};
use crate::domain::{CustomerId, EarnRequest, EarnSource, Refusal};
use crate::events::consume::Refund;
use crate::store::lots as lot_store;
use crm_platform::Error;
use sea_orm::DatabaseTransaction;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What consumed events wrote, by event id, until their transaction has committed.
#[derive(Clone, Default)]
pub(super) struct Uncommitted(Arc<Mutex<HashMap<Uuid, Written>>>);

struct Written {
    noted: Instant,
    wallets: Vec<CustomerId>,
    /// The wallets' states after the writes (valid once committed).
    states: Vec<(CustomerId, Carried)>,
}

/// Notes kept before old ones are dropped: those of transactions that rolled back (their
/// events are retried under the same ids, replacing them) or of events dead-lettered then.
const MAX_UNCOMMITTED: usize = 16_384;
/// Age after which a note can only be a rolled-back transaction's (a consumer's transaction
/// is bounded by `events.handler_timeout_ms`, at most 10 minutes), so it may go when the map
/// is full; younger notes stay, so an open transaction's wallets are still dropped at commit.
/// Should rolled-back notes outgrow four times the cap even so, the map starts afresh (a
/// missed drop costs a cached snapshot until its TTL, never a wrong write).
const STALE_AFTER: Duration = Duration::from_secs(900);

impl Uncommitted {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Written>> {
        // A panic while holding the lock leaves a map of whole entries: still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note(&self, event: Uuid, wallets: Vec<CustomerId>, states: Vec<(CustomerId, Carried)>) {
        let mut map = self.map();
        if map.len() >= MAX_UNCOMMITTED {
            map.retain(|_, w| w.noted.elapsed() < STALE_AFTER);
            if map.len() >= 4 * MAX_UNCOMMITTED {
                map.clear();
            }
        }
        let w = map.entry(event).or_insert_with(|| Written {
            noted: Instant::now(),
            wallets: Vec::new(),
            states: Vec::new(),
        });
        w.wallets.extend(wallets);
        w.states.extend(states);
    }

    /// The notes of `events` (committed), removed; a wallet's last state wins.
    fn take(
        &self,
        events: impl IntoIterator<Item = Uuid>,
    ) -> (Vec<CustomerId>, HashMap<CustomerId, Carried>) {
        let mut map = self.map();
        let mut wallets = Vec::new();
        let mut states = HashMap::new();
        for e in events {
            if let Some(w) = map.remove(&e) {
                wallets.extend(w.wallets);
                states.extend(w.states);
            }
        }
        wallets.sort();
        wallets.dedup();
        (wallets, states)
    }
}

impl LoyaltyService {
    /// Reverses the refunded order of `event` in `txn`, in proportion to the amount. An
    /// order this customer's wallet does not know (never earned here, or earned by another
    /// customer), one reversed fully already, or a refund in another currency: nothing.
    pub async fn refund_from_event(
        &self,
        txn: &DatabaseTransaction,
        event: Uuid,
        r: Refund,
    ) -> Result<(), Error> {
        // A merged customer's orders moved to the survivor with its wallet.
        let customer = self.survivor_of(txn, r.customer).await?;
        // Checked before locking, so an unknown customer gets no wallet.
        if lot_store::find_order(txn, customer, &r.order_id)
            .await?
            .is_none()
        {
            tracing::info!(%customer, order_id = r.order_id, "refund of an order loyalty does not know; nothing to reverse");
            return Ok(());
        }
        let p = self.program();
        let now = crate::domain::now();
        let mut w = WalletWriter::open_with(txn, p, customer, now, &self.warm).await?;
        let order = w.order(&r.order_id).await?.unwrap_or_default();
        let refund = r.refund.as_ref().map(|(c, a)| (c.as_str(), *a));
        match self.reverse_on(&mut w, &r.order_id, order, refund, &r.reason) {
            Ok(_) => {}
            Err(Refusal::Reverse { order_id, error }) => {
                tracing::info!(%customer, order_id, %error, "refund reverses nothing");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        let (_, carried, writes) = w.finish_deferred()?;
        writes.flush(txn, &self.events).await?;
        self.consumed_wrote(event, vec![(customer, carried)]).await;
        Ok(())
    }

    /// Notes that `event` wrote `wallets` in the consumer's transaction (a merge's, an
    /// erasure's) and drops them from the cache now.
    pub async fn consumed_touched(&self, event: Uuid, wallets: Vec<CustomerId>) {
        self.drop_cached(&wallets).await;
        self.uncommitted.note(event, wallets, Vec::new());
    }

    /// [`Self::consumed_touched`] with the wallets' new states.
    pub(super) async fn consumed_wrote(&self, event: Uuid, states: Vec<(CustomerId, Carried)>) {
        let wallets: Vec<CustomerId> = states.iter().map(|(c, _)| *c).collect();
        self.drop_cached(&wallets).await;
        self.uncommitted.note(event, wallets, states);
    }

    /// The consumer's transaction that applied `events` committed: drops the wallets they
    /// wrote from the cache and keeps their states warm.
    pub async fn consumed_committed(&self, events: impl IntoIterator<Item = Uuid>) {
        let (wallets, states) = self.uncommitted.take(events);
        self.drop_cached(&wallets).await;
        self.warm.keep(states);
    }

    /// Drops `wallets`' cached snapshots, all at once (one round trip to Redis each).
    async fn drop_cached(&self, wallets: &[CustomerId]) {
        let drops = wallets
            .iter()
            .map(|c| self.invalidate(std::slice::from_ref(c)));
        futures::future::join_all(drops).await;
    }
}

/// True when `req` is a purchase whose order earned already (nothing to do).
pub(super) async fn earned_already(
    w: &mut WalletWriter<'_, DatabaseTransaction>,
    req: &EarnRequest,
) -> Result<bool, Error> {
    if let EarnSource::Purchase { order_id, .. } = &req.source
        && w.order(order_id).await?.is_some_and(|o| o.earned > 0)
    {
        let customer = req.customer;
        tracing::info!(%customer, order_id, "order earned already; nothing to earn");
        return Ok(true);
    }
    Ok(false)
}
