//! Reversal of an order: claw back what it earned (its own lots first, then other available
//! points, FEFO), restore what it redeemed, recompute the tier. Never drives available
//! below zero: what cannot be clawed back is recorded as shortfall (and as `owed`).
use super::writer::{Draft, WalletWriter, add_to};
use super::{Begun, LoyaltyService, Mutation, ReverseOutcome};
use crate::domain::ledger::movement;
use crate::domain::lots::total;
use crate::domain::reverse::plan;
use crate::domain::{Account, CustomerId, TxKind};
use crate::error;
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
        let now = crate::domain::now();
        let m = {
            let mut w = WalletWriter::open(&txn, p, customer, now).await?;
            let now = w.now;
            let mut order = w.order(order_id).await?.unwrap_or_default();
            let plan = plan(&order, refund.as_ref().map(|(c, a)| (c.as_str(), *a)))
                .map_err(|e| error::reverse(e, order_id))?;
            let mut postings = Vec::new();
            if plan.restore > 0 {
                w.add_lot(plan.restore, order_id, now, p.expiry_of(now));
                postings.extend(movement(
                    Account::Redemption,
                    Account::Wallet(customer),
                    plan.restore,
                ));
            }
            let mut taken = w.consume(plan.claw_back, |l| l.order_id == order_id);
            let rest = plan.claw_back - total(&taken);
            taken.extend(w.consume(rest, |l| l.is_available(now)));
            let clawed = total(&taken);
            let shortfall = plan.claw_back - clawed;
            postings.extend(movement(
                Account::Wallet(customer),
                Account::Issuance,
                clawed,
            ));
            let mut d = Draft::new(TxKind::Reverse, postings);
            d.order_id = order_id.to_owned();
            d.reason = reason.to_owned();
            d.shortfall = shortfall;
            d.qualifying_delta = -plan.claw_back;
            d.qualify_time = order.earn_time;
            let t = w.post(d)?;
            add_to(
                &mut w.wallet.lifetime_earned,
                -clawed,
                "lifetime earned points",
            )?;
            add_to(
                &mut w.wallet.lifetime_redeemed,
                -plan.restore,
                "lifetime redeemed points",
            )?;
            add_to(&mut w.wallet.owed, shortfall, "owed points")?;
            order.refunded_minor = plan.refunded_minor;
            add_to(
                &mut order.clawed_back,
                clawed,
                "the order's clawed-back points",
            )?;
            add_to(&mut order.shortfall, shortfall, "the order's shortfall")?;
            add_to(
                &mut order.restored,
                plan.restore,
                "the order's restored points",
            )?;
            order.fully_reversed = plan.fully_reversed;
            w.save_order(order_id, order);
            let snapshot = w.finish().await?;
            Mutation {
                resource: customer.name(),
                touched: vec![customer],
                value: ReverseOutcome {
                    transaction: t,
                    clawed_back: clawed,
                    shortfall,
                    restored: plan.restore,
                    balance: snapshot.balance(p, now),
                },
            }
        };
        self.commit(txn, key, m).await
    }
}
