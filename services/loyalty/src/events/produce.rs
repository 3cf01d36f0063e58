//! The events loyalty publishes: one named conversion per ledger fact, domain -> payload.
//! The write paths call them on what they just posted and hand the payloads to the
//! wallet's write set, which appends them with the ledger rows (see [`super`]).
use crate::domain::{EarnRequest, EarnSource, Lot, Program, TierChange, Transaction, TxKind};
use chrono::{DateTime, Utc};
use crm_platform::validate::to_timestamp;
use crm_proto::common::Money;
use crm_proto::events as ev;
use ev::event::Payload;

/// The actor tickets earns goodwill as (its satisfaction surveys, sync call or event).
pub const TICKETS_ACTOR: &str = "tickets";
/// Reason codes of goodwill: the ledger's reason is free text, the event carries a code.
pub const LOW_CSAT: &str = "low_csat";
pub const GOODWILL: &str = "goodwill";
/// Multiplier of a fixed award (actions, goodwill).
const NO_MULTIPLIER: i32 = 1000;

fn time(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(to_timestamp(t))
}

/// The Earn `t` of `req` and the lot it created; `multiplier_permille`: the tier
/// multiplier the purchase earned at (ignored for fixed awards).
pub fn earned(req: &EarnRequest, t: &Transaction, lot: &Lot, multiplier_permille: i32) -> Payload {
    let (source, amount, reason, multiplier) = match &req.source {
        EarnSource::Purchase {
            currency,
            amount_minor,
            ..
        } => (
            ev::EarnSource::Purchase,
            Some(Money {
                currency_code: currency.clone(),
                amount_minor: *amount_minor,
            }),
            String::new(),
            multiplier_permille,
        ),
        EarnSource::Action(action) => (ev::EarnSource::Action, None, action.clone(), NO_MULTIPLIER),
        EarnSource::Goodwill { actor, .. } => {
            let code = if actor == TICKETS_ACTOR {
                LOW_CSAT
            } else {
                GOODWILL
            };
            (
                ev::EarnSource::Goodwill,
                None,
                code.to_owned(),
                NO_MULTIPLIER,
            )
        }
    };
    points_earned(t, lot, source, amount, reason, multiplier)
}

/// A re-rate top-up: an earlier purchase arrived after `t`'s order, which now earns at a
/// higher tier (`multiplier_permille`); reason "tier re-rate", no amount (the order's
/// amount earned already).
pub fn rerated(t: &Transaction, lot: &Lot, multiplier_permille: i32) -> Payload {
    points_earned(
        t,
        lot,
        ev::EarnSource::Purchase,
        None,
        t.reason.clone(),
        multiplier_permille,
    )
}

fn points_earned(
    t: &Transaction,
    lot: &Lot,
    source: ev::EarnSource,
    amount: Option<Money>,
    reason: String,
    multiplier_permille: i32,
) -> Payload {
    Payload::PointsEarned(ev::PointsEarned {
        customer: t.customer.name(),
        transaction: t.name(),
        source: source as i32,
        points: t.wallet_delta(),
        order_id: t.order_id.clone(),
        amount,
        reason,
        multiplier_permille,
        earn_time: time(t.qualify_time),
        available_time: time(lot.available_time),
        expire_time: time(lot.expire_time),
    })
}

/// A Redeem (points leave the wallet) or a Capture (points leave the held account): the
/// points that reached the redemption account.
pub fn redeemed(t: &Transaction) -> Payload {
    let points = i64::try_from(t.delta(crate::domain::Account::Redemption)).unwrap_or(i64::MAX);
    Payload::PointsRedeemed(ev::PointsRedeemed {
        customer: t.customer.name(),
        transaction: t.name(),
        points,
        order_id: t.order_id.clone(),
        redeem_time: time(t.create_time),
    })
}

/// A reversal of `t.order_id`; `refund`: (currency, amount_minor) refunded by it, `None`
/// for the whole order.
pub fn reversed(
    t: &Transaction,
    refund: Option<(&str, i64)>,
    clawed_back: i64,
    restored: i64,
) -> Payload {
    Payload::PointsReversed(ev::PointsReversed {
        customer: t.customer.name(),
        transaction: t.name(),
        order_id: t.order_id.clone(),
        refund_amount: refund.map(|(c, a)| Money {
            currency_code: c.to_owned(),
            amount_minor: a,
        }),
        clawed_back_points: clawed_back,
        shortfall_points: t.shortfall,
        restored_points: restored,
        reverse_time: time(t.create_time),
    })
}

/// Due lots moved to breakage (one transaction per wallet and run).
pub fn expired(t: &Transaction, points: i64) -> Payload {
    Payload::PointsExpired(ev::PointsExpired {
        customer: t.customer.name(),
        transaction: t.name(),
        points,
        expire_time: time(t.create_time),
    })
}

/// A tier change recorded by a write; `cause`: the last transaction of that write.
pub fn tier_changed(p: &Program, c: &TierChange, cause: Option<&Transaction>) -> Payload {
    Payload::TierChanged(ev::TierChanged {
        customer: c.customer.name(),
        from_tier: c.from_tier.clone(),
        to_tier: c.to_tier.clone(),
        reason: tier_change_reason(p, c, cause) as i32,
        qualifying_points: c.qualifying_points,
        transaction: c.transaction.clone(),
        change_time: time(c.change_time),
    })
}

/// This service's erasure of `customer` (the name CustomerErased gave) finished, answering
/// the CustomerErased envelope `erasure_event_id`.
pub fn erasure_completed(
    customer: &str,
    erasure_event_id: &str,
    scrubbed_records: i64,
    complete_time: DateTime<Utc>,
) -> Payload {
    Payload::ErasureCompleted(ev::ErasureCompleted {
        service: "loyalty".to_owned(),
        customer: customer.to_owned(),
        erasure_event_id: erasure_event_id.to_owned(),
        complete_time: time(complete_time),
        scrubbed_records,
    })
}

/// Why the tier moved: a merge that moved another wallet's qualifying points in is
/// MERGED; an operator's Adjust is ADJUSTED; an upgrade by a write that added
/// qualifying points is EARNED, a downgrade by one that removed them (a reversal) is
/// REVERSED; anything else (points left the rolling window while some other write, e.g.
/// the expiry job or a redemption, ran) is WINDOW. A wallet's tier is recorded by its
/// writes, so a window change is published at the wallet's next write.
pub fn tier_change_reason(
    p: &Program,
    c: &TierChange,
    cause: Option<&Transaction>,
) -> ev::TierChangeReason {
    let rank = |code: &str| p.tiers.iter().position(|t| t.code == code);
    let up = rank(&c.to_tier) > rank(&c.from_tier);
    let delta = cause.map_or(0, |t| t.qualifying_delta);
    match cause.map(|t| t.kind) {
        Some(TxKind::Adjust) => ev::TierChangeReason::Adjusted,
        Some(TxKind::MergeIn) => ev::TierChangeReason::Merged,
        _ if up && delta > 0 => ev::TierChangeReason::Earned,
        _ if !up && delta < 0 => ev::TierChangeReason::Reversed,
        _ => ev::TierChangeReason::Window,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CustomerId;

    fn program() -> Program {
        crate::Settings::load(None)
            .expect("defaults")
            .loyalty
            .program
    }

    fn change(from: &str, to: &str) -> TierChange {
        TierChange {
            id: uuid::Uuid::now_v7(),
            customer: CustomerId::generate(),
            from_tier: from.into(),
            to_tier: to.into(),
            qualifying_points: 0,
            transaction: String::new(),
            change_time: crate::domain::now(),
        }
    }

    fn tx(kind: TxKind, qualifying_delta: i64) -> Transaction {
        let mut d = crate::domain::Draft::new(kind, Vec::new());
        d.qualifying_delta = qualifying_delta;
        let c = CustomerId::generate();
        let mut w = crate::domain::WalletState::new(
            crate::domain::Wallet::empty(c, "regular"),
            Vec::new(),
            Vec::new(),
            crate::domain::now(),
        );
        w.post(&program(), d).expect("posts")
    }

    #[test]
    fn tier_change_reasons() {
        use ev::TierChangeReason as R;
        let p = program();
        #[rustfmt::skip]
        let table = [
            ("an earn raises", "regular", "silver", Some(tx(TxKind::Earn, 10)), R::Earned),
            ("a reversal lowers", "gold", "silver", Some(tx(TxKind::Reverse, -10)), R::Reversed),
            ("an adjustment", "silver", "regular", Some(tx(TxKind::Adjust, 0)), R::Adjusted),
            ("expiry while the window slid", "silver", "regular", Some(tx(TxKind::Expire, 0)), R::Window),
            ("goodwill while the window slid", "silver", "regular", Some(tx(TxKind::Earn, 0)), R::Window),
            ("no transaction", "silver", "regular", None, R::Window),
            ("a merge moved points in", "regular", "silver", Some(tx(TxKind::MergeIn, 0)), R::Merged),
        ];
        for (case, from, to, cause, want) in table {
            let got = tier_change_reason(&p, &change(from, to), cause.as_ref());
            assert_eq!(got, want, "{case}");
        }
    }
}
