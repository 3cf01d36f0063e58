//! Reversal of an order: loads the order, applies [`crate::domain::reverse::reverse`] (claw
//! back what it earned, restore what it redeemed), writes the wallet and the order.
use super::writer::WalletWriter;
use super::{Begun, LoyaltyService, Mutation, ReverseOutcome};
use crate::domain::CustomerId;
use crate::domain::reverse::reverse;
use crm_platform::Error;
use crm_platform::idempotency::IdempotencyKey;

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
        let r = reverse(p, &mut w.state, order_id, order, refund, reason)?;
        w.save_order(order_id, Some(r.order));
        let snapshot = w.finish().await?;
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
}
