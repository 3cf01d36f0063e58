//! Earn, redeem, adjust: load the order a write needs, apply the domain's rule, keep the
//! order's new state.
use super::LoyaltyService;
use super::writer::WalletWriter;
use crate::domain::{Transaction, earn};
use crm_platform::Error;
use sea_orm::ConnectionTrait;

pub use crate::domain::{Adjust, EarnRequest, EarnSource, Redeem};

impl LoyaltyService {
    /// Earns on the locked wallet of `w` ([`earn::earn`]), re-rating the wallet's later
    /// purchases after a back-dated one ([`earn::rerate_later`]).
    pub(super) async fn earn_on<C: ConnectionTrait>(
        &self,
        w: &mut WalletWriter<'_, C>,
        req: &EarnRequest,
    ) -> Result<Transaction, Error> {
        let order_id = match &req.source {
            EarnSource::Purchase { order_id, .. } => order_id.as_str(),
            _ => "",
        };
        let order = w.order_if_any(order_id).await?;
        let applied = earn::earn(self.program(), &mut w.state, req, order)?;
        let back_dated = applied
            .order
            .as_ref()
            .and_then(|o| o.earn_time)
            .filter(|t| *t < w.state.now);
        w.save_order(order_id, applied.order);
        // A purchase earlier than this wallet's later ones raises the tier they earned at.
        if let Some(t) = back_dated {
            let later = w.purchases_after(t).await?;
            for (id, o) in earn::rerate_later(self.program(), &mut w.state, later)? {
                w.save_order(&id, Some(o));
            }
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
        Ok(applied.transaction)
    }

    /// A manual correction ([`earn::adjust`]).
    pub(super) fn adjust_on<C: ConnectionTrait>(
        &self,
        w: &mut WalletWriter<'_, C>,
        a: &Adjust,
    ) -> Result<Transaction, Error> {
        Ok(earn::adjust(self.program(), &mut w.state, a)?)
    }
}
