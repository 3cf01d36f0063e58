//! Two-phase redemption: hold, capture (all or part), release; expired holds are released
//! by the expiry job.
use super::earn::add_redeemed;
use super::writer::{Draft, WalletWriter, add_to};
use super::{Begun, HoldOutcome, LoyaltyService, Mutation};
use crate::domain::ledger::movement;
use crate::domain::{Account, CustomerId, Hold, HoldState, Transaction, TxKind};
use crate::error;
use crate::store::lots as lot_store;
use crm_platform::Error;
use crm_platform::idempotency::IdempotencyKey;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

/// Releases `hold` back into its lots and ends it in `state` (RELEASED or EXPIRED).
pub(super) async fn release_into<C: ConnectionTrait>(
    w: &mut WalletWriter<'_, C>,
    conn: &C,
    hold: &mut Hold,
    state: HoldState,
    reason: &str,
) -> Result<Transaction, Error> {
    let c = w.customer();
    w.give_back(&hold.lots, hold.points).await?;
    let mut d = Draft::new(
        TxKind::Release,
        movement(Account::Held(c), Account::Wallet(c), hold.points),
    );
    d.related = hold.name();
    d.order_id = hold.order_id.clone();
    d.reason = reason.to_owned();
    let t = w.post(d)?;
    hold.state = state;
    lot_store::save_hold(conn, hold).await?;
    Ok(t)
}

impl LoyaltyService {
    pub async fn hold(
        &self,
        key: &IdempotencyKey,
        customer: CustomerId,
        points: i64,
        order_id: &str,
        timeout_secs: Option<i64>,
    ) -> Result<HoldOutcome, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let p = self.program();
        let now = crate::domain::now();
        let m = {
            let mut w = WalletWriter::open(&txn, p, customer, now).await?;
            let now = w.now;
            let available = w.available();
            if points > available {
                return Err(error::insufficient(customer, points, available));
            }
            let taken = w.consume(points, |l| l.is_available(now));
            let timeout = timeout_secs
                .unwrap_or(p.hold_timeout_secs)
                .min(p.hold_timeout_secs);
            let hold = Hold {
                id: Uuid::now_v7(),
                customer,
                points,
                captured: 0,
                state: HoldState::Active,
                order_id: order_id.to_owned(),
                lots: taken,
                create_time: now,
                // Validated: the timeout is at most 30 days.
                expire_time: chrono::TimeDelta::try_seconds(timeout)
                    .and_then(|d| now.checked_add_signed(d))
                    .ok_or_else(|| error::invalid("timeout_seconds", "is too large"))?,
            };
            lot_store::insert_hold(&txn, &hold).await?;
            let mut d = Draft::new(
                TxKind::Hold,
                movement(Account::Wallet(customer), Account::Held(customer), points),
            );
            d.related = hold.name();
            d.order_id = order_id.to_owned();
            let t = w.post(d)?;
            let snapshot = w.finish().await?;
            Mutation {
                resource: hold.name(),
                touched: vec![customer],
                value: HoldOutcome {
                    hold,
                    transaction: t,
                    balance: snapshot.balance(p, now),
                },
            }
        };
        self.commit(txn, key, m).await
    }

    /// Captures `points` of the hold (`None`: all); the rest goes back to the wallet.
    pub async fn capture(
        &self,
        key: &IdempotencyKey,
        customer: CustomerId,
        hold_id: Uuid,
        points: Option<i64>,
    ) -> Result<HoldOutcome, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let p = self.program();
        let now = crate::domain::now();
        let m = {
            let mut w = WalletWriter::open(&txn, p, customer, now).await?;
            let now = w.now;
            let mut hold = active_hold(&txn, customer, hold_id, now).await?;
            let capture = points.unwrap_or(hold.points);
            if capture > hold.points {
                return Err(error::invalid(
                    "points",
                    format!("must be at most the {} points held", hold.points),
                ));
            }
            let rest = hold.points - capture;
            w.give_back(&hold.lots, rest).await?;
            let mut postings =
                movement(Account::Held(customer), Account::Redemption, capture).to_vec();
            postings.extend(movement(
                Account::Held(customer),
                Account::Wallet(customer),
                rest,
            ));
            let mut d = Draft::new(TxKind::Capture, postings);
            d.related = hold.name();
            d.order_id = hold.order_id.clone();
            let t = w.post(d)?;
            add_to(
                &mut w.wallet.lifetime_redeemed,
                capture,
                "lifetime redeemed points",
            )?;
            add_redeemed(&mut w, &hold.order_id, capture).await?;
            hold.state = HoldState::Captured;
            hold.captured = capture;
            lot_store::save_hold(&txn, &hold).await?;
            let snapshot = w.finish().await?;
            Mutation {
                resource: hold.name(),
                touched: vec![customer],
                value: HoldOutcome {
                    hold,
                    transaction: t,
                    balance: snapshot.balance(p, now),
                },
            }
        };
        self.commit(txn, key, m).await
    }

    pub async fn release(
        &self,
        key: &IdempotencyKey,
        customer: CustomerId,
        hold_id: Uuid,
    ) -> Result<HoldOutcome, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let p = self.program();
        let now = crate::domain::now();
        let m = {
            let mut w = WalletWriter::open(&txn, p, customer, now).await?;
            let now = w.now;
            let mut hold = active_hold(&txn, customer, hold_id, now).await?;
            let t = release_into(&mut w, &txn, &mut hold, HoldState::Released, "released").await?;
            let snapshot = w.finish().await?;
            Mutation {
                resource: hold.name(),
                touched: vec![customer],
                value: HoldOutcome {
                    hold,
                    transaction: t,
                    balance: snapshot.balance(p, now),
                },
            }
        };
        self.commit(txn, key, m).await
    }
}

/// The hold, if it belongs to `customer` and is still active and not timed out (a timed-out
/// hold waits for the expiry job, which gives its points back).
async fn active_hold(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Hold, Error> {
    let name = crate::domain::hold_name(customer, id);
    let hold = lot_store::find_hold(conn, id)
        .await?
        .filter(|h| h.customer == customer)
        .ok_or_else(|| error::hold_not_found(&name))?;
    if hold.is_expired(now) {
        return Err(error::hold_not_active(&name, "expired"));
    }
    if hold.state != HoldState::Active {
        return Err(error::hold_not_active(&name, hold.state.as_str()));
    }
    Ok(hold)
}
