//! Pure loyalty rules and types: no I/O, no tonic, no sea-orm. Points are integers (`i64`)
//! everywhere; multipliers are integer thousandths.
pub mod balance;
pub mod chain;
pub mod earn;
pub mod erase;
pub mod expire;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod hold;
pub mod ledger;
pub mod lots;
pub mod merge;
pub mod points;
pub mod program;
pub mod refusal;
pub mod reverse;
pub mod transfer;
pub mod wallet;

pub use balance::{BalanceView, Snapshot, TierChange, TierStatus, Wallet};
pub use chain::{Draft, Transaction};
pub use earn::{Adjust, EarnRequest, EarnSource, Redeem};
pub use hold::{Hold, HoldState};
pub use ledger::{Account, Posting, TxKind};
pub use lots::{Consumption, Lot};
pub use points::{Limits, Overflow};
pub use program::{ItemBonus, Line, Program, TierDef};
pub use refusal::Refusal;
pub use wallet::{Applied, WalletState};

crm_platform::resource_id!(CustomerId, "customers");

/// The only programme of this version.
pub const DEFAULT_PROGRAM: &str = "programs/default";

/// Timestamps are stored with microsecond precision (PostgreSQL's), so values are cut to it
/// before they are compared or hashed.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    truncate(chrono::Utc::now())
}

pub fn truncate(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// A hold's resource name: `customers/{customer}/holds/{hold}`.
pub fn hold_name(customer: CustomerId, hold: uuid::Uuid) -> String {
    format!("{}/holds/{hold}", customer.name())
}

/// Parses `customers/{customer}/holds/{hold}`.
pub fn parse_hold_name(name: &str) -> Result<(CustomerId, uuid::Uuid), &'static str> {
    const SHAPE: &str = "must look like `customers/{customer}/holds/{hold}`";
    if name.is_empty() {
        return Err("is required");
    }
    let (customer, hold) = name.split_once("/holds/").ok_or(SHAPE)?;
    let customer = CustomerId::parse_name(customer).map_err(|_| SHAPE)?;
    let hold = uuid::Uuid::try_parse(hold).map_err(|_| SHAPE)?;
    Ok((customer, hold))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_names_round_trip() {
        let c = CustomerId::generate();
        let h = uuid::Uuid::now_v7();
        assert_eq!(parse_hold_name(&hold_name(c, h)), Ok((c, h)));
        assert!(parse_hold_name("customers/x/holds/y").is_err());
        assert!(parse_hold_name("").is_err());
    }
}
