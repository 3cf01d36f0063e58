//! Reversal of an order: loads the order, applies [`crate::domain::reverse::reverse`] (claw
//! back what it earned, restore what it redeemed), writes the wallet and the order.
use super::writer::WalletWriter;
use super::{Begun, LoyaltyService, Mutation, ReverseOutcome};
use crate::domain::reverse::{OrderState, Reversed, reverse};
use crate::domain::{CustomerId, Refusal};
use crate::events::produce;
use crm_platform::Error;
use crm_platform::idempotency::IdempotencyKey;
use sea_orm::ConnectionTrait;

impl LoyaltyService {
    /// `refund`: (currency, amount_minor) refunded by this call; `None` reverses the order.
    pub async fn reverse(
        &self,
        key: &IdempotencyKey,
        customer: CustomerId,
        order_id: &str,
        refund: Option<(String, i64)>,
        reason: &str,
    ) -> Result<ReverseOutcome, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let p = self.program();
        let customer = self.survivor_of(&txn, customer).await?;
        let mut w = WalletWriter::open(&txn, p, customer, crate::domain::now()).await?;
        let now = w.state.now;
        let order = w.order(order_id).await?.unwrap_or_default();
        let refund = refund.as_ref().map(|(c, a)| (c.as_str(), *a));
        let r = self.reverse_on(&mut w, order_id, order, refund, reason)?;
        let snapshot = w.finish(&self.events).await?;
        let m = Mutation {
            resource: customer.name(),
            touched: vec![customer],
            value: ReverseOutcome {
                transaction: r.transaction,
                clawed_back: r.clawed_back,
                shortfall: r.shortfall,
                restored: r.restored,
                balance: snapshot.balance(p, now),
            },
        };
        self.commit(txn, key, m).await
    }

    /// Reverses `order_id` (`order`: its state under the lock) on the locked wallet and
    /// publishes the reversal; the order's new state is kept for the writer to store.
    pub(super) fn reverse_on<C: ConnectionTrait>(
        &self,
        w: &mut WalletWriter<'_, C>,
        order_id: &str,
        order: OrderState,
        refund: Option<(&str, i64)>,
        reason: &str,
    ) -> Result<Reversed, Refusal> {
        let r = reverse(
            self.program(),
            &mut w.state,
            order_id,
            order,
            refund,
            reason,
        )?;
        w.publish(produce::reversed(
            &r.transaction,
            refund,
            r.clawed_back,
            r.restored,
        ));
        w.save_order(order_id, Some(r.order.clone()));
        Ok(r)
    }
}
