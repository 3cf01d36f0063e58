//! Earn, redeem, adjust: load the order a write needs, apply the domain's rule, keep the
//! order's new state, publish what was posted.
use super::LoyaltyService;
use super::writer::WalletWriter;
use crate::domain::{Transaction, TxKind, earn};
use crate::events::produce;
use crm_platform::Error;
use sea_orm::ConnectionTrait;

pub use crate::domain::{Adjust, EarnRequest, EarnSource, Redeem};

impl LoyaltyService {
    /// Earns on the locked wallet of `w` ([`earn::earn`]), re-rating the wallet's later
    /// purchases after a back-dated one ([`earn::rerate_later`]); publishes a PointsEarned
    /// per Earn posted (the purchase's, then each re-rate top-up).
    pub(super) async fn earn_on<C: ConnectionTrait>(
        &self,
        w: &mut WalletWriter<'_, C>,
        req: &EarnRequest,
    ) -> Result<Transaction, Error> {
        let p = self.program();
        let (order_id, multiplier) = match &req.source {
            EarnSource::Purchase {
                order_id,
                purchase_time,
                ..
            } => {
                // The tier multiplier the purchase earns at (the rule's, before it counts).
                let at = p.purchase_time(*purchase_time, w.state.now);
                let tier = at.map(|at| p.tier_before(&w.state.qualifying, at));
                (order_id.as_str(), tier.map_or(0, |t| t.multiplier_permille))
            }
            _ => ("", 0),
        };
        let order = w.order_if_any(order_id).await?;
        let first_lot = w.state.lots.len();
        let applied = earn::earn(p, &mut w.state, req, order)?;
        let back_dated = applied
            .order
            .as_ref()
            .and_then(|o| o.earn_time)
            .filter(|t| *t < w.state.now);
        w.save_order(order_id, applied.order);
        // A purchase earlier than this wallet's later ones raises the tier they earned at.
        if let Some(t) = back_dated {
            let later = w.purchases_after(t).await?;
            for (id, o) in earn::rerate_later(p, &mut w.state, later)? {
                w.save_order(&id, Some(o));
            }
        }
        // Each Earn posted added one lot, in the same order: the purchase's, then top-ups.
        let earns: Vec<Transaction> = w
            .state
            .posted()
            .iter()
            .filter(|t| t.kind == TxKind::Earn)
            .cloned()
            .collect();
        let lots = w.state.lots[first_lot.min(w.state.lots.len())..].to_vec();
        if earns.len() != lots.len() || earns.first().map(|t| t.id) != Some(applied.transaction.id)
        {
            return Err(Error::internal(anyhow::anyhow!(
                "earn posted {} transactions for {} new lots",
                earns.len(),
                lots.len()
            )));
        }
        for (i, (t, lot)) in earns.iter().zip(&lots).enumerate() {
            let event = if i == 0 {
                produce::earned(req, t, lot, multiplier)
            } else {
                let tier = p.tier_before(&w.state.qualifying, t.qualify_time);
                produce::rerated(t, lot, tier.multiplier_permille)
            };
            w.publish(event);
        }
        Ok(applied.transaction)
    }

    /// Spends available points FEFO ([`earn::redeem`]).
    pub(super) async fn redeem_on<C: ConnectionTrait>(
        &self,
        w: &mut WalletWriter<'_, C>,
        r: &Redeem,
    ) -> Result<Transaction, Error> {
        let order = w.order_if_any(&r.order_id).await?;
        let applied = earn::redeem(self.program(), &mut w.state, r, order)?;
        w.save_order(&r.order_id, applied.order);
        w.publish(produce::redeemed(&applied.transaction));
        Ok(applied.transaction)
    }

    /// A manual correction ([`earn::adjust`]): no event of its own (the tier change it may
    /// record is published, ADJUSTED).
    pub(super) fn adjust_on<C: ConnectionTrait>(
        &self,
        w: &mut WalletWriter<'_, C>,
        a: &Adjust,
    ) -> Result<Transaction, Error> {
        Ok(earn::adjust(self.program(), &mut w.state, a)?)
    }
}
