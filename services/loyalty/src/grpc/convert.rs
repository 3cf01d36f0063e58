//! domain -> proto, and the small parsers the adapter shares.
use crate::domain::{
    BalanceView, Hold, HoldState, Posting, Program, TierChange, TierStatus, Transaction, TxKind,
};
use crate::service::{Inconsistency, Verification};
use crm_platform::Violations;
use crm_platform::validate::to_timestamp;
use crm_proto::loyalty as pb;

const KINDS: &[(pb::TransactionKind, TxKind)] = &[
    (pb::TransactionKind::Earn, TxKind::Earn),
    (pb::TransactionKind::Redeem, TxKind::Redeem),
    (pb::TransactionKind::Hold, TxKind::Hold),
    (pb::TransactionKind::Capture, TxKind::Capture),
    (pb::TransactionKind::Release, TxKind::Release),
    (pb::TransactionKind::Reverse, TxKind::Reverse),
    (pb::TransactionKind::Adjust, TxKind::Adjust),
    (pb::TransactionKind::TransferOut, TxKind::TransferOut),
    (pb::TransactionKind::TransferIn, TxKind::TransferIn),
    (pb::TransactionKind::Expire, TxKind::Expire),
    (pb::TransactionKind::MergeOut, TxKind::MergeOut),
    (pb::TransactionKind::MergeIn, TxKind::MergeIn),
];

pub fn kind_from(raw: i32, field: &str, v: &mut Violations) -> Option<TxKind> {
    let found = KINDS
        .iter()
        .find(|(p, _)| *p as i32 == raw)
        .map(|(_, k)| *k);
    if found.is_none() {
        v.add(field, format!("{raw} is not a known transaction kind"));
    }
    found
}

fn kind(k: TxKind) -> pb::TransactionKind {
    KINDS
        .iter()
        .find(|(_, d)| *d == k)
        .map(|(p, _)| *p)
        .unwrap_or(pb::TransactionKind::Unspecified)
}

fn posting(p: &Posting) -> pb::Posting {
    pb::Posting {
        account: p.account.name(),
        amount: p.amount,
    }
}

pub fn transaction(t: &Transaction) -> pb::Transaction {
    pb::Transaction {
        name: t.name(),
        customer: t.customer.name(),
        kind: kind(t.kind) as i32,
        sequence: t.sequence,
        postings: t.postings.iter().map(posting).collect(),
        wallet_delta: t.wallet_delta(),
        order_id: t.order_id.clone(),
        reason: t.reason.clone(),
        actor: t.actor.clone(),
        shortfall_points: t.shortfall,
        related: t.related.clone(),
        create_time: Some(to_timestamp(t.create_time)),
        hash: t.hash.clone(),
    }
}

pub fn tier_status(s: &TierStatus) -> pb::TierStatus {
    pb::TierStatus {
        tier: s.tier.clone(),
        qualifying_points: s.qualifying_points,
        next_tier: s.next_tier.clone(),
        points_to_next_tier: s.points_to_next_tier,
        multiplier_permille: s.multiplier_permille,
    }
}

pub fn balance(b: &BalanceView) -> pb::Balance {
    pb::Balance {
        customer: b.customer.name(),
        available: b.available,
        pending: b.pending,
        held: b.held,
        expiring: b
            .expiring
            .iter()
            .map(|(t, p)| pb::ExpiringPoints {
                expire_time: Some(to_timestamp(*t)),
                points: *p,
            })
            .collect(),
        lifetime_earned: b.lifetime_earned,
        lifetime_redeemed: b.lifetime_redeemed,
        lifetime_expired: b.lifetime_expired,
        owed: b.owed,
        tier: Some(tier_status(&b.tier)),
        read_time: Some(to_timestamp(b.read_time)),
    }
}

pub fn hold(h: &Hold) -> pb::LoyaltyHold {
    let state = match h.state {
        HoldState::Active => pb::HoldState::Active,
        HoldState::Captured => pb::HoldState::Captured,
        HoldState::Released => pb::HoldState::Released,
        HoldState::Expired => pb::HoldState::Expired,
    };
    pb::LoyaltyHold {
        name: h.name(),
        customer: h.customer.name(),
        points: h.points,
        captured_points: h.captured,
        state: state as i32,
        order_id: h.order_id.clone(),
        create_time: Some(to_timestamp(h.create_time)),
        expire_time: Some(to_timestamp(h.expire_time)),
    }
}

pub fn tier_change(c: &TierChange) -> pb::TierChange {
    pb::TierChange {
        customer: c.customer.name(),
        from_tier: c.from_tier.clone(),
        to_tier: c.to_tier.clone(),
        qualifying_points: c.qualifying_points,
        transaction: c.transaction.clone(),
        change_time: Some(to_timestamp(c.change_time)),
    }
}

pub fn program(p: &Program) -> pb::Program {
    pb::Program {
        name: crate::domain::DEFAULT_PROGRAM.to_owned(),
        display_name: p.display_name.clone(),
        points_currency: p.points_currency.clone(),
        earning_rules: Some(pb::EarningRules {
            points_per_unit: p.points_per_unit,
            minor_units_per_unit: p.minor_units_per_unit,
            currency_codes: p.currency_codes.clone(),
            pending_days: p.pending_days,
            item_bonuses: p
                .item_bonuses
                .iter()
                .map(|b| pb::ItemBonus {
                    item_id_prefix: b.item_id_prefix.clone(),
                    multiplier_permille: b.multiplier_permille,
                })
                .collect(),
        }),
        tiers: p
            .tiers
            .iter()
            .map(|t| pb::TierDefinition {
                code: t.code.clone(),
                display_name: t.display_name.clone(),
                threshold: t.threshold,
                multiplier_permille: t.multiplier_permille,
            })
            .collect(),
        expiry_policy: Some(pb::ExpiryPolicy {
            expire_after_months: i32::try_from(p.expire_after_months).unwrap_or(i32::MAX),
            qualifying_window_days: i32::try_from(p.qualifying_window_days).unwrap_or(i32::MAX),
        }),
        action_awards: p.action_awards.clone(),
        transfers_allowed: p.transfers_allowed,
        hold_timeout_seconds: p.hold_timeout_secs,
    }
}

pub fn verification(v: &Verification) -> pb::VerifyLedgerResponse {
    pb::VerifyLedgerResponse {
        consistent: v.first_inconsistency.is_none(),
        accounts_checked: v.accounts_checked,
        transactions_checked: v.transactions_checked,
        first_inconsistency: v.first_inconsistency.as_ref().map(inconsistency),
    }
}

fn inconsistency(i: &Inconsistency) -> pb::Inconsistency {
    pb::Inconsistency {
        customer: i.customer.map(|c| c.name()).unwrap_or_default(),
        sequence: i.sequence,
        transaction: i.transaction.clone(),
        problem: i.problem.clone(),
    }
}
