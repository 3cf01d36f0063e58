//! The single-wallet writes: earning (purchase, action, goodwill), redeeming and manual
//! corrections, as rules over a [`WalletState`].
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
        /// When it happened (none: now); the points are earned as of this time.
        purchase_time: Option<DateTime<Utc>>,
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
///
/// A purchase is earned as of its purchase time (at most `max_backdate_days` ago): the
/// tier of the window before it, qualifying at it, pending and expiring from it. Points
/// whose expiry is already past are still earned (the ledger is the true history) and are
/// never available: the next expiry run expires them like any other due lot.
pub fn earn(
    p: &Program,
    w: &mut WalletState,
    req: &EarnRequest,
    order: Option<OrderState>,
) -> Result<Applied, Refusal> {
    let now = w.now;
    let mut order_after = None;
    let mut as_of = now;
    let (points, order_id, reason, actor, qualifies) = match &req.source {
        EarnSource::Purchase {
            order_id,
            currency,
            amount_minor,
            lines,
            purchase_time,
        } => {
            if order.as_ref().is_some_and(|o| o.earned > 0) {
                return Err(Refusal::OrderAlreadyEarned(order_id.clone()));
            }
            let at = p
                .purchase_time(*purchase_time, now)
                .map_err(|why| Refusal::invalid("purchase.purchase_time", why))?;
            let (base, points) = purchase_points(p, w, at, *amount_minor, lines)?;
            as_of = at;
            order_after = Some(OrderState {
                purchase_amount_minor: Some(*amount_minor),
                currency: currency.clone(),
                earned: points,
                earn_time: Some(at),
                base_points: Some(base),
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
    let available = match (req.available_time, &req.source) {
        (Some(t), _) => t.max(now),
        (None, EarnSource::Purchase { .. }) => p.purchase_available_time(as_of),
        (None, _) => now,
    };
    let expire = req.expire_time.unwrap_or_else(|| p.expiry_of(as_of));
    w.add_lot(points, order_id, available, expire);
    let mut d = Draft::new(
        TxKind::Earn,
        movement(Account::Issuance, Account::Wallet(w.customer()), points),
    );
    d.order_id = order_id.to_owned();
    d.reason = reason.to_owned();
    d.actor = actor.to_owned();
    d.qualifying_delta = if qualifies { points } else { 0 };
    d.qualify_time = Some(as_of);
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

/// Re-rates `later`: the wallet's purchase orders after a back-dated purchase just earned.
/// In purchase-time order, each is topped up to its points at the tier it had just before
/// its purchase time, now that the earlier purchase counts; the top-up is a new lot of the
/// order with the policy's dates from its purchase time (an Earn, reason "tier re-rate",
/// qualifying at that time). So loading purchases in any order gives the balance and tier
/// loading them in time order gives. Orders already (partly) reversed and points a lower
/// tier would have given are left as they are: re-rating only ever adds. Returns the orders'
/// new states.
pub fn rerate_later(
    p: &Program,
    w: &mut WalletState,
    mut later: Vec<(String, OrderState)>,
) -> Result<Vec<(String, OrderState)>, Refusal> {
    later.sort_by(|a, b| (a.1.earn_time, &a.0).cmp(&(b.1.earn_time, &b.0)));
    let mut rerated = Vec::new();
    for (order_id, mut o) in later {
        let (Some(at), Some(base)) = (o.earn_time, o.base_points) else {
            continue;
        };
        if o.clawed_back > 0 || o.fully_reversed {
            continue;
        }
        let tier = p.tier_before(&w.qualifying, at);
        let top_up = Program::with_multiplier(base, tier.multiplier_permille) - o.earned;
        if top_up <= 0 {
            continue;
        }
        w.add_lot(
            top_up,
            &order_id,
            p.purchase_available_time(at),
            p.expiry_of(at),
        );
        let mut d = Draft::new(
            TxKind::Earn,
            movement(Account::Issuance, Account::Wallet(w.customer()), top_up),
        );
        d.order_id = order_id.clone();
        d.reason = "tier re-rate".to_owned();
        d.qualifying_delta = top_up;
        d.qualify_time = Some(at);
        w.post(p, d)?;
        add_to(
            &mut w.wallet.lifetime_earned,
            top_up,
            "lifetime earned points",
        )?;
        add_to(&mut o.earned, top_up, "the order's earned points")?;
        rerated.push((order_id, o));
    }
    Ok(rerated)
}

/// A purchase's points before and after the multiplier of the tier the wallet had just
/// before `at`: more than one call may earn, or none, is refused (an overflow is more than
/// any call may earn).
fn purchase_points(
    p: &Program,
    w: &WalletState,
    at: DateTime<Utc>,
    amount_minor: i64,
    lines: &[Line],
) -> Result<(i64, i64), Refusal> {
    let tier = p.tier_before(&w.qualifying, at);
    let base = p
        .purchase_points(amount_minor, lines, 1000)
        .unwrap_or(i64::MAX);
    let points = Program::with_multiplier(base, tier.multiplier_permille);
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
    Ok((base, points))
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
mod as_of_tests;
#[cfg(test)]
mod tests;
