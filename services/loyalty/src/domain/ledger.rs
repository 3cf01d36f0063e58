//! The double-entry ledger: accounts, postings and the kinds of transaction (the chain of
//! transactions is in [`super::chain`]).
//! Every transaction's postings sum to zero, so the sum over all accounts is always zero.
use super::CustomerId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Account {
    /// A customer's points (available + pending + due for expiry).
    Wallet(CustomerId),
    /// A customer's points reserved by holds.
    Held(CustomerId),
    /// Where earned points come from.
    Issuance,
    /// Where spent points go.
    Redemption,
    /// Where expired points go.
    Breakage,
    /// Clearing account of transfers between customers (nets to zero per transfer).
    Transfers,
    /// Clearing account of customer merges (nets to zero per merged wallet).
    Merges,
}

impl Account {
    pub fn name(&self) -> String {
        match self {
            Self::Wallet(c) => format!("{}/wallet", c.name()),
            Self::Held(c) => format!("{}/held", c.name()),
            Self::Issuance => "system/issuance".into(),
            Self::Redemption => "system/redemption".into(),
            Self::Breakage => "system/breakage".into(),
            Self::Transfers => "system/transfers".into(),
            Self::Merges => "system/merges".into(),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "system/issuance" => Some(Self::Issuance),
            "system/redemption" => Some(Self::Redemption),
            "system/breakage" => Some(Self::Breakage),
            "system/transfers" => Some(Self::Transfers),
            "system/merges" => Some(Self::Merges),
            _ => {
                if let Some(c) = s.strip_suffix("/wallet") {
                    CustomerId::parse_name(c).ok().map(Self::Wallet)
                } else {
                    let c = s.strip_suffix("/held")?;
                    CustomerId::parse_name(c).ok().map(Self::Held)
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: Account,
    /// Positive: the account gains points.
    pub amount: i64,
}

/// `amount` (>= 0, at most the per-call limit) moves from `from` to `to` (two postings).
/// `i64::MIN` has no negation: the postings would not sum to zero, which posting refuses.
pub fn movement(from: Account, to: Account, amount: i64) -> [Posting; 2] {
    [
        Posting {
            account: from,
            amount: amount.saturating_neg(),
        },
        Posting {
            account: to,
            amount,
        },
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TxKind {
    Earn,
    Redeem,
    Hold,
    Capture,
    Release,
    Reverse,
    Adjust,
    TransferOut,
    TransferIn,
    Expire,
    /// A merged customer's wallet leaves for the survivor's.
    MergeOut,
    /// A merged customer's wallet arrives (and its qualifying history is carried over).
    MergeIn,
}

impl TxKind {
    pub const ALL: [Self; 12] = [
        Self::Earn,
        Self::Redeem,
        Self::Hold,
        Self::Capture,
        Self::Release,
        Self::Reverse,
        Self::Adjust,
        Self::TransferOut,
        Self::TransferIn,
        Self::Expire,
        Self::MergeOut,
        Self::MergeIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earn => "earn",
            Self::Redeem => "redeem",
            Self::Hold => "hold",
            Self::Capture => "capture",
            Self::Release => "release",
            Self::Reverse => "reverse",
            Self::Adjust => "adjust",
            Self::TransferOut => "transfer_out",
            Self::TransferIn => "transfer_in",
            Self::Expire => "expire",
            Self::MergeOut => "merge_out",
            Self::MergeIn => "merge_in",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip() {
        let c = CustomerId::generate();
        for a in [
            Account::Wallet(c),
            Account::Held(c),
            Account::Issuance,
            Account::Redemption,
            Account::Breakage,
            Account::Transfers,
            Account::Merges,
        ] {
            assert_eq!(Account::parse(&a.name()), Some(a));
        }
        assert_eq!(Account::parse("system/nope"), None);
    }
}
