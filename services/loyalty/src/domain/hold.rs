//! Two-phase redemption: a hold moves points from the wallet to the held account; capture
//! spends them, release gives them back to the lots they came from.
use super::chain::{Draft, Transaction};
use super::earn::positive;
use super::ledger::{Account, TxKind, movement};
use super::lots::Consumption;
use super::refusal::{Refusal, add_to};
use super::reverse::{OrderState, redeemed_on_order};
use super::wallet::{Applied, WalletState};
use super::{CustomerId, Program};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldState {
    Active,
    Captured,
    Released,
    Expired,
}

impl HoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Captured => "captured",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }
    pub fn from_db(s: &str) -> Option<Self> {
        [Self::Active, Self::Captured, Self::Released, Self::Expired]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: Uuid,
    pub customer: CustomerId,
    pub points: i64,
    pub captured: i64,
    pub state: HoldState,
    pub order_id: String,
    /// Where the held points came from.
    pub lots: Vec<Consumption>,
    pub create_time: DateTime<Utc>,
    pub expire_time: DateTime<Utc>,
}

impl Hold {
    pub fn name(&self) -> String {
        super::hold_name(self.customer, self.id)
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.state == HoldState::Active && self.expire_time <= now
    }

    /// Refuses a hold that has ended or timed out (a timed-out hold waits for the expiry
    /// job, which gives its points back).
    pub fn check_active(&self, now: DateTime<Utc>) -> Result<(), Refusal> {
        let state = if self.is_expired(now) {
            "expired"
        } else if self.state != HoldState::Active {
            self.state.as_str()
        } else {
            return Ok(());
        };
        Err(Refusal::HoldNotActive {
            hold: self.name(),
            state,
        })
    }
}

/// Moves `points` available points (FEFO) to the held account for `timeout_secs` (the
/// programme's timeout when not given, and at most that).
pub fn place(
    p: &Program,
    w: &mut WalletState,
    points: i64,
    order_id: &str,
    timeout_secs: Option<i64>,
) -> Result<(Hold, Transaction), Refusal> {
    positive("points", points)?;
    let now = w.now;
    let customer = w.customer();
    let taken = w.spend_available(points)?;
    let timeout = timeout_secs
        .unwrap_or(p.hold_timeout_secs)
        .min(p.hold_timeout_secs);
    let hold = Hold {
        id: uuid::Uuid::now_v7(),
        customer,
        points,
        captured: 0,
        state: HoldState::Active,
        order_id: order_id.to_owned(),
        lots: taken,
        create_time: now,
        // Validated: the programme's timeout is at most 30 days.
        expire_time: TimeDelta::try_seconds(timeout)
            .and_then(|d| now.checked_add_signed(d))
            .ok_or_else(|| Refusal::invalid("timeout_seconds", "is too large"))?,
    };
    let mut d = Draft::new(
        TxKind::Hold,
        movement(Account::Wallet(customer), Account::Held(customer), points),
    );
    d.related = hold.name();
    d.order_id = hold.order_id.clone();
    let t = w.post(p, d)?;
    Ok((hold, t))
}

/// Spends `points` of an active hold (`None`: all of it) and gives the rest back to the
/// lots it came from, latest-expiring first. The spent points count as redeemed by the
/// hold's order (`order`: its stored state). The hold's lots must be in `w` (see
/// [`WalletState::missing_lots`]).
pub fn capture(
    p: &Program,
    w: &mut WalletState,
    hold: &mut Hold,
    points: Option<i64>,
    order: Option<OrderState>,
) -> Result<Applied, Refusal> {
    hold.check_active(w.now)?;
    let c = w.customer();
    let capture = points.unwrap_or(hold.points);
    if !(0..=hold.points).contains(&capture) {
        return Err(Refusal::invalid(
            "points",
            format!("must be at most the {} points held", hold.points),
        ));
    }
    let rest = hold.points - capture;
    w.give_back(&hold.lots, rest);
    let mut postings = movement(Account::Held(c), Account::Redemption, capture).to_vec();
    postings.extend(movement(Account::Held(c), Account::Wallet(c), rest));
    let mut d = Draft::new(TxKind::Capture, postings);
    d.related = hold.name();
    d.order_id = hold.order_id.clone();
    let transaction = w.post(p, d)?;
    add_to(
        &mut w.wallet.lifetime_redeemed,
        capture,
        "lifetime redeemed points",
    )?;
    let order = redeemed_on_order(&hold.order_id, order, capture)?;
    hold.state = HoldState::Captured;
    hold.captured = capture;
    Ok(Applied { transaction, order })
}

/// Gives an active hold's points back to the lots they came from (which must be in `w`).
pub fn release(p: &Program, w: &mut WalletState, hold: &mut Hold) -> Result<Transaction, Refusal> {
    hold.check_active(w.now)?;
    end(p, w, hold, HoldState::Released, "released")
}

/// Releases a hold that has timed out (its lots must be in `w`); `None` for any other.
pub fn expire(
    p: &Program,
    w: &mut WalletState,
    hold: &mut Hold,
) -> Result<Option<Transaction>, Refusal> {
    if !hold.is_expired(w.now) {
        return Ok(None);
    }
    end(p, w, hold, HoldState::Expired, "hold expired").map(Some)
}

fn end(
    p: &Program,
    w: &mut WalletState,
    hold: &mut Hold,
    state: HoldState,
    reason: &str,
) -> Result<Transaction, Refusal> {
    let c = w.customer();
    w.give_back(&hold.lots, hold.points);
    let mut d = Draft::new(
        TxKind::Release,
        movement(Account::Held(c), Account::Wallet(c), hold.points),
    );
    d.related = hold.name();
    d.order_id = hold.order_id.clone();
    d.reason = reason.to_owned();
    let t = w.post(p, d)?;
    hold.state = state;
    Ok(t)
}

#[cfg(test)]
mod tests;
