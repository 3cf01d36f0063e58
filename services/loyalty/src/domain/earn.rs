//! The single-wallet writes: earning (purchase, action, goodwill), redeeming and manual
//! corrections, as rules over a [`WalletState`].
use super::balance::tier_status;
use super::chain::{Draft, Transaction};
use super::ledger::{Account, TxKind, movement};
use super::refusal::{Refusal, add_to};
use super::reverse::{OrderState, redeemed_on_order};
use super::wallet::{Applied, WalletState};
use super::{CustomerId, Line, Program};
use chrono::{DateTime, Utc};

/// Where earned points come from (validated by the adapter against the programme).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EarnSource {
    Purchase {
        order_id: String,
        currency: String,
        amount_minor: i64,
        lines: Vec<Line>,
    },
    /// An action with a fixed award in the programme.
    Action(String),
    Goodwill {
        points: i64,
        reason: String,
        actor: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarnRequest {
    pub customer: CustomerId,
    pub source: EarnSource,
    pub available_time: Option<DateTime<Utc>>,
    pub expire_time: Option<DateTime<Utc>>,
}

/// Spends available points FEFO; all or nothing unless `up_to_available`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeem {
    pub customer: CustomerId,
    pub points: i64,
    pub up_to_available: bool,
    pub order_id: String,
    pub description: String,
}

/// A manual correction by `actor`: positive adds a lot, negative removes available points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjust {
    pub customer: CustomerId,
    pub points: i64,
    pub reason: String,
    pub actor: String,
}

/// Earns on `w`: the programme's earning rules and the tier multiplier of the wallet's
/// qualifying points for a purchase (once per order: `order` is its stored state), the
/// fixed award of an action, or goodwill (which does not count towards the tier). The lot
/// is available after the programme's pending days for a purchase, at once otherwise (or
/// at the requested time, never before now), and expires by the policy unless told.
pub fn earn(
    p: &Program,
    w: &mut WalletState,
    req: &EarnRequest,
    order: Option<OrderState>,
) -> Result<Applied, Refusal> {
    let now = w.now;
    let mut order_after = None;
    let (points, order_id, reason, actor, qualifies) = match &req.source {
        EarnSource::Purchase {
            order_id,
            currency,
            amount_minor,
            lines,
        } => {
            if order.as_ref().is_some_and(|o| o.earned > 0) {
                return Err(Refusal::OrderAlreadyEarned(order_id.clone()));
            }
            let points = purchase_points(p, w, *amount_minor, lines)?;
            order_after = Some(OrderState {
                purchase_amount_minor: Some(*amount_minor),
                currency: currency.clone(),
                earned: points,
                earn_time: Some(now),
                ..order.unwrap_or_default()
            });
            (points, order_id.as_str(), "purchase", "", true)
        }
        EarnSource::Action(action) => {
            let points = p.action_awards.get(action).copied().unwrap_or(0);
            (points, "", action.as_str(), "", true)
        }
        EarnSource::Goodwill {
            points,
            reason,
            actor,
        } => (*points, "", reason.as_str(), actor.as_str(), false),
    };
    if points <= 0 {
        return Err(Refusal::invalid("source", "earns no points"));
    }
    let available = req.available_time.unwrap_or(match req.source {
        EarnSource::Purchase { .. } => p.purchase_available_time(now),
        _ => now,
    });
    let expire = req.expire_time.unwrap_or_else(|| p.expiry_of(now));
    w.add_lot(points, order_id, available.max(now), expire);
    let mut d = Draft::new(
        TxKind::Earn,
        movement(Account::Issuance, Account::Wallet(w.customer()), points),
    );
    d.order_id = order_id.to_owned();
    d.reason = reason.to_owned();
    d.actor = actor.to_owned();
    d.qualifying_delta = if qualifies { points } else { 0 };
    let transaction = w.post(p, d)?;
    add_to(
        &mut w.wallet.lifetime_earned,
        points,
        "lifetime earned points",
    )?;
    Ok(Applied {
        transaction,
        order: order_after,
    })
}

/// A purchase's points at the wallet's tier: more than one call may earn, or none, is
/// refused (an overflow is more than any call may earn).
fn purchase_points(
    p: &Program,
    w: &WalletState,
    amount_minor: i64,
    lines: &[Line],
) -> Result<i64, Refusal> {
    let tier = tier_status(p, &w.qualifying, w.now);
    let points = p
        .purchase_points(amount_minor, lines, tier.multiplier_permille)
        .unwrap_or(i64::MAX);
    let max = p.limits.max_points_per_call;
    if points > max {
        return Err(Refusal::invalid(
            "purchase.amount.amount_minor",
            format!("earns more than the {max} points one call may earn"),
        ));
    }
    if points <= 0 {
        return Err(Refusal::invalid("source", "earns no points"));
    }
    Ok(points)
}

/// Spends available points FEFO (never pending or due ones): all of `r.points`, or with
/// `up_to_available` as many as there are (at least one); records them against the order
/// (`order`: its stored state) so a reversal can restore them.
pub fn redeem(
    p: &Program,
    w: &mut WalletState,
    r: &Redeem,
    order: Option<OrderState>,
) -> Result<Applied, Refusal> {
    positive("points", r.points)?;
    let available = w.available();
    let n = if r.points <= available {
        r.points
    } else if r.up_to_available && available > 0 {
        available
    } else {
        return Err(Refusal::Insufficient {
            customer: w.customer(),
            wanted: r.points,
            available,
        });
    };
    w.spend_available(n)?;
    let mut d = Draft::new(
        TxKind::Redeem,
        movement(Account::Wallet(w.customer()), Account::Redemption, n),
    );
    d.order_id = r.order_id.clone();
    d.reason = r.description.clone();
    let transaction = w.post(p, d)?;
    add_to(
        &mut w.wallet.lifetime_redeemed,
        n,
        "lifetime redeemed points",
    )?;
    Ok(Applied {
        transaction,
        order: redeemed_on_order(&r.order_id, order, n)?,
    })
}

/// A manual correction: adds points as a new lot expiring by the policy, or removes
/// available points FEFO (never more than available).
pub fn adjust(p: &Program, w: &mut WalletState, a: &Adjust) -> Result<Transaction, Refusal> {
    if a.points == 0 {
        return Err(Refusal::invalid("points", "must not be 0"));
    }
    let now = w.now;
    let c = w.customer();
    let postings = if a.points > 0 {
        w.add_lot(a.points, "", now, p.expiry_of(now));
        add_to(
            &mut w.wallet.lifetime_earned,
            a.points,
            "lifetime earned points",
        )?;
        movement(Account::Issuance, Account::Wallet(c), a.points)
    } else {
        let debit = a.points.checked_neg().ok_or(Refusal::Insufficient {
            customer: c,
            wanted: i64::MAX,
            available: w.available(),
        })?;
        w.spend_available(debit)?;
        movement(Account::Wallet(c), Account::Issuance, debit)
    };
    let mut d = Draft::new(TxKind::Adjust, postings);
    d.reason = a.reason.clone();
    d.actor = a.actor.clone();
    w.post(p, d)
}

/// Refuses a number of points to move that is not positive (the adapter refuses it first).
pub(super) fn positive(field: &'static str, points: i64) -> Result<(), Refusal> {
    if points <= 0 {
        return Err(Refusal::invalid(field, "must be at least 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
