//! Earn, redeem, adjust.
use super::writer::{Draft, WalletWriter};
use super::{Begun, LoyaltyService, Mutation, Posted};
use crate::domain::balance::tier_status;
use crate::domain::ledger::movement;
use crate::domain::{Account, CustomerId, TxKind};
use crate::error;
use crate::store::{ledger as store, lots as lot_store};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::idempotency::IdempotencyKey;
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

/// Records `points` redeemed against `order_id` (so a reversal can restore them).
pub(super) async fn add_redeemed(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    order_id: &str,
    points: i64,
) -> Result<(), Error> {
    if order_id.is_empty() || points == 0 {
        return Ok(());
    }
    let existing = lot_store::find_order(conn, customer, order_id).await?;
    let exists = existing.is_some();
    let mut o = existing.unwrap_or_default();
    o.redeemed += points;
    lot_store::save_order(conn, customer, order_id, &o, exists).await
}

impl LoyaltyService {
    pub async fn earn(&self, key: &IdempotencyKey, req: EarnRequest) -> Result<Posted, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let p = self.program();
        let now = crate::domain::now();
        let m = {
            let mut w = WalletWriter::open(&txn, p, req.customer, now).await?;
            let now = w.now;
            let c = req.customer;
            let (points, order_id, reason, actor, qualifies) = match &req.source {
                EarnSource::Purchase {
                    order_id,
                    currency,
                    amount_minor,
                    lines,
                } => {
                    let existing = lot_store::find_order(&txn, c, order_id).await?;
                    if existing.as_ref().is_some_and(|o| o.earned > 0) {
                        return Err(error::order_already_earned(order_id));
                    }
                    let qualifying = store::qualifying_since(&txn, c, p.window_start(now)).await?;
                    let tier = tier_status(p, &qualifying, now);
                    let points = p.purchase_points(*amount_minor, lines, tier.multiplier_permille);
                    let exists = existing.is_some();
                    let mut o = existing.unwrap_or_default();
                    o.purchase_amount_minor = Some(*amount_minor);
                    o.currency = currency.clone();
                    o.earned = points;
                    o.earn_time = Some(now);
                    lot_store::save_order(&txn, c, order_id, &o, exists).await?;
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
            let t = w.post(d).await?;
            w.wallet.lifetime_earned += points;
            let snapshot = w.finish().await?;
            Mutation {
                resource: c.name(),
                touched: vec![c],
                value: Posted {
                    transaction: t,
                    balance: snapshot.balance(p, now),
                },
            }
        };
        self.commit(txn, key, m).await
    }

    /// Spends available points FEFO. All or nothing unless `up_to_available`.
    pub async fn redeem(
        &self,
        key: &IdempotencyKey,
        customer: CustomerId,
        points: i64,
        up_to_available: bool,
        order_id: &str,
        description: &str,
    ) -> Result<Posted, Error> {
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
            let n = if points <= available {
                points
            } else if up_to_available && available > 0 {
                available
            } else {
                return Err(error::insufficient(customer, points, available));
            };
            let taken = w.consume(n, |l| l.is_available(now));
            debug_assert_eq!(crate::domain::lots::total(&taken), n);
            let mut d = Draft::new(
                TxKind::Redeem,
                movement(Account::Wallet(customer), Account::Redemption, n),
            );
            d.order_id = order_id.to_owned();
            d.reason = description.to_owned();
            let t = w.post(d).await?;
            w.wallet.lifetime_redeemed += n;
            add_redeemed(&txn, customer, order_id, n).await?;
            let snapshot = w.finish().await?;
            Mutation {
                resource: customer.name(),
                touched: vec![customer],
                value: Posted {
                    transaction: t,
                    balance: snapshot.balance(p, now),
                },
            }
        };
        self.commit(txn, key, m).await
    }

    /// A manual correction: adds points as a new lot, or removes available points FEFO
    /// (never more than available).
    pub async fn adjust(
        &self,
        key: &IdempotencyKey,
        customer: CustomerId,
        points: i64,
        reason: &str,
        actor: &str,
    ) -> Result<Posted, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let p = self.program();
        let now = crate::domain::now();
        let m = {
            let mut w = WalletWriter::open(&txn, p, customer, now).await?;
            let now = w.now;
            let postings = if points > 0 {
                w.add_lot(points, "", now, p.expiry_of(now));
                w.wallet.lifetime_earned += points;
                movement(Account::Issuance, Account::Wallet(customer), points)
            } else {
                let debit = -points;
                let available = w.available();
                if debit > available {
                    return Err(error::insufficient(customer, debit, available));
                }
                w.consume(debit, |l| l.is_available(now));
                movement(Account::Wallet(customer), Account::Issuance, debit)
            };
            let mut d = Draft::new(TxKind::Adjust, postings);
            d.reason = reason.to_owned();
            d.actor = actor.to_owned();
            let t = w.post(d).await?;
            let snapshot = w.finish().await?;
            Mutation {
                resource: customer.name(),
                touched: vec![customer],
                value: Posted {
                    transaction: t,
                    balance: snapshot.balance(p, now),
                },
            }
        };
        self.commit(txn, key, m).await
    }
}
