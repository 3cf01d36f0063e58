//! Ledger writes asked for by other services' events ([`crate::events::consume`]), inside
//! the consumer's transaction (its inbox row commits with them): no request id of their
//! own, the inbox makes them exactly once. Their effects and events are those of the same
//! writes made through the RPCs.
use super::LoyaltyService;
use super::writer::WalletWriter;
use crate::domain::{CustomerId, EarnRequest, EarnSource, Refusal};
use crate::events::consume::Refund;
use crate::store::{ledger as store, lots as lot_store};
use crm_platform::Error;
use sea_orm::DatabaseTransaction;
use std::time::Duration;

/// How long after a consumed write its wallet's cached snapshot is dropped again at most.
const COMMIT_WAIT: Duration = Duration::from_secs(5);

impl LoyaltyService {
    /// Earns `req` (a purchase or goodwill) in `txn`; a customer without a wallet gets one.
    /// A purchase whose order earned already (this event before, or the Earn RPC) earns
    /// nothing more.
    pub async fn earn_from_event(
        &self,
        txn: &DatabaseTransaction,
        mut req: EarnRequest,
    ) -> Result<(), Error> {
        // A purchase of a customer merged since lands on the survivor.
        req.customer = self.survivor_of(txn, req.customer).await?;
        let customer = req.customer;
        let p = self.program();
        let now = crate::domain::now();
        let mut w = WalletWriter::open_with(txn, p, customer, now, &self.warm).await?;
        if let EarnSource::Purchase { order_id, .. } = &req.source
            && w.order(order_id).await?.is_some_and(|o| o.earned > 0)
        {
            tracing::info!(%customer, order_id, "order earned already; nothing to earn");
            return Ok(());
        }
        self.earn_on(&mut w, &req).await?;
        let snapshot = w.finish(&self.events).await?;
        self.invalidate_once_committed(customer, snapshot.wallet.sequence)
            .await;
        Ok(())
    }

    /// Reverses the refunded order in `txn`, in proportion to the amount. An order this
    /// customer's wallet does not know (never earned here, or earned by another customer),
    /// one reversed fully already, or a refund in another currency: nothing to do.
    pub async fn refund_from_event(
        &self,
        txn: &DatabaseTransaction,
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
        let snapshot = w.finish(&self.events).await?;
        self.invalidate_once_committed(customer, snapshot.wallet.sequence)
            .await;
        Ok(())
    }

    /// Drops `customer`'s cached snapshot now and again once the consumer's transaction has
    /// committed (the handler cannot see the commit: a read between this drop and the
    /// commit could cache the state before it), i.e. once the stored wallet reaches
    /// `sequence`, or after [`COMMIT_WAIT`] (a rolled-back write never does).
    pub(super) async fn invalidate_once_committed(&self, customer: CustomerId, sequence: i64) {
        self.invalidate(&[customer]).await;
        let svc = self.clone();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut pause = Duration::from_millis(2);
            while started.elapsed() < COMMIT_WAIT {
                tokio::time::sleep(pause).await;
                let stored = store::find_wallet(&svc.core.db, customer).await;
                if stored.is_ok_and(|w| w.is_some_and(|w| w.sequence >= sequence)) {
                    break;
                }
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            svc.invalidate(&[customer]).await;
        });
    }
}
