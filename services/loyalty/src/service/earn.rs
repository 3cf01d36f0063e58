//! Earn, redeem, adjust.
use super::LoyaltyService;
use super::writer::{Draft, WalletWriter, add_to};
use crate::domain::balance::tier_status;
use crate::domain::ledger::movement;
use crate::domain::{Account, CustomerId, Transaction, TxKind};
use crate::error;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ConnectionTrait;

/// Where earned points come from (validated by the adapter against the programme).
#[derive(Debug, Clone)]
pub enum EarnSource {
    Purchase {
        order_id: String,
        currency: String,
        amount_minor: i64,
        lines: Vec<crate::domain::Line>,
    },
    /// An action with a fixed award in the programme.
    Action(String),
    Goodwill {
        points: i64,
        reason: String,
        actor: String,
    },
}

#[derive(Debug, Clone)]
pub struct EarnRequest {
    pub customer: CustomerId,
    pub source: EarnSource,
    pub available_time: Option<DateTime<Utc>>,
    pub expire_time: Option<DateTime<Utc>>,
}

/// Spends available points FEFO; all or nothing unless `up_to_available`.
#[derive(Debug, Clone)]
pub struct Redeem {
    pub customer: CustomerId,
    pub points: i64,
    pub up_to_available: bool,
    pub order_id: String,
    pub description: String,
}

/// A manual correction by `actor`: positive adds a lot, negative removes available points.
#[derive(Debug, Clone)]
pub struct Adjust {
    pub customer: CustomerId,
    pub points: i64,
    pub reason: String,
    pub actor: String,
}

/// Records `points` redeemed against `order_id` (so a reversal can restore them).
pub(super) async fn add_redeemed<C: ConnectionTrait>(
    w: &mut WalletWriter<'_, C>,
    order_id: &str,
    points: i64,
) -> Result<(), Error> {
    if order_id.is_empty() || points == 0 {
        return Ok(());
    }
    let mut o = w.order(order_id).await?.unwrap_or_default();
    add_to(&mut o.redeemed, points, "the order's redeemed points")?;
    w.save_order(order_id, o);
    Ok(())
}

impl LoyaltyService {
    /// Earns on the locked wallet of `w`: the programme's earning rules and tier multiplier
    /// for a purchase, a fixed award for an action, or goodwill.
    pub(super) async fn earn_on<C: ConnectionTrait>(
        &self,
        w: &mut WalletWriter<'_, C>,
        req: &EarnRequest,
    ) -> Result<Transaction, Error> {
        let p = self.program();
        let now = w.now;
        let c = req.customer;
        let (points, order_id, reason, actor, qualifies) = match &req.source {
            EarnSource::Purchase {
                order_id,
                currency,
                amount_minor,
                lines,
            } => {
                let existing = w.order(order_id).await?;
                if existing.as_ref().is_some_and(|o| o.earned > 0) {
                    return Err(error::order_already_earned(order_id));
                }
                let tier = tier_status(p, &w.qualifying, now);
                let points = p
                    .purchase_points(*amount_minor, lines, tier.multiplier_permille)
                    .unwrap_or(i64::MAX);
                let max = p.limits.max_points_per_call;
                if points > max {
                    return Err(error::invalid(
                        "purchase.amount.amount_minor",
                        format!("earns more than the {max} points one call may earn"),
                    ));
                }
                if points <= 0 {
                    return Err(error::invalid("source", "earns no points"));
                }
                let mut o = existing.unwrap_or_default();
                o.purchase_amount_minor = Some(*amount_minor);
                o.currency = currency.clone();
                o.earned = points;
                o.earn_time = Some(now);
                w.save_order(order_id, o);
                (
                    points,
                    order_id.clone(),
                    "purchase".to_owned(),
                    String::new(),
                    true,
                )
            }
            EarnSource::Action(action) => {
                let points = p.action_awards.get(action).copied().unwrap_or(0);
                (points, String::new(), action.clone(), String::new(), true)
            }
            EarnSource::Goodwill {
                points,
                reason,
                actor,
            } => (*points, String::new(), reason.clone(), actor.clone(), false),
        };
        if points <= 0 {
            return Err(error::invalid("source", "earns no points"));
        }
        let available = req.available_time.unwrap_or(match req.source {
            EarnSource::Purchase { .. } => p.purchase_available_time(now),
            _ => now,
        });
        let expire = req.expire_time.unwrap_or_else(|| p.expiry_of(now));
        w.add_lot(points, &order_id, available.max(now), expire);
        let mut d = Draft::new(
            TxKind::Earn,
            movement(Account::Issuance, Account::Wallet(c), points),
        );
        d.order_id = order_id;
        d.reason = reason;
        d.actor = actor;
        d.qualifying_delta = if qualifies { points } else { 0 };
        let t = w.post(d)?;
        add_to(
            &mut w.wallet.lifetime_earned,
            points,
            "lifetime earned points",
        )?;
        Ok(t)
    }

    /// Spends available points FEFO. All or nothing unless `up_to_available`.
    pub(super) async fn redeem_on<C: ConnectionTrait>(
        &self,
        w: &mut WalletWriter<'_, C>,
        r: &Redeem,
    ) -> Result<Transaction, Error> {
        let now = w.now;
        let available = w.available();
        let n = if r.points <= available {
            r.points
        } else if r.up_to_available && available > 0 {
            available
        } else {
            return Err(error::insufficient(r.customer, r.points, available));
        };
        let taken = w.consume(n, |l| l.is_available(now));
        debug_assert_eq!(crate::domain::lots::total(&taken), n);
        let mut d = Draft::new(
            TxKind::Redeem,
            movement(Account::Wallet(r.customer), Account::Redemption, n),
        );
        d.order_id = r.order_id.clone();
        d.reason = r.description.clone();
        let t = w.post(d)?;
        add_to(
            &mut w.wallet.lifetime_redeemed,
            n,
            "lifetime redeemed points",
        )?;
        add_redeemed(w, &r.order_id, n).await?;
        Ok(t)
    }

    /// A manual correction: adds points as a new lot, or removes available points FEFO
    /// (never more than available).
    pub(super) fn adjust_on<C: ConnectionTrait>(
        &self,
        w: &mut WalletWriter<'_, C>,
        a: &Adjust,
    ) -> Result<Transaction, Error> {
        let p = self.program();
        let now = w.now;
        let postings = if a.points > 0 {
            w.add_lot(a.points, "", now, p.expiry_of(now));
            add_to(
                &mut w.wallet.lifetime_earned,
                a.points,
                "lifetime earned points",
            )?;
            movement(Account::Issuance, Account::Wallet(a.customer), a.points)
        } else {
            let debit = a
                .points
                .checked_neg()
                .ok_or_else(|| error::insufficient(a.customer, i64::MAX, w.available()))?;
            let available = w.available();
            if debit > available {
                return Err(error::insufficient(a.customer, debit, available));
            }
            w.consume(debit, |l| l.is_available(now));
            movement(Account::Wallet(a.customer), Account::Issuance, debit)
        };
        let mut d = Draft::new(TxKind::Adjust, postings);
        d.reason = a.reason.clone();
        d.actor = a.actor.clone();
        w.post(d)
    }
}
