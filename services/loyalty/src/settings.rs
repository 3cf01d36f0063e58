//! Settings of the loyalty binary: the platform sections plus `[loyalty]`.
use crate::domain::Program;
use crm_platform::config::Validate;
use crm_platform::idempotency::validate_retention;
use crm_platform::paging::Paging;
use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../config/loyalty.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoyaltySettings {
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub idempotency_retention_hours: u64,
    /// Seconds between background expiry runs; 0 disables the job.
    pub expire_interval_secs: u64,
    /// Wallets per keyset page of a whole-ledger VerifyLedger or Expire.
    pub ledger_page_size: u64,
    /// Batch concurrent Earn/Redeem/Adjust calls into one database transaction each.
    pub group_commit: bool,
    /// Most calls in one group-commit transaction.
    pub group_commit_max_batch: usize,
    /// Group-commit writers; a wallet always goes to the same one.
    pub group_commit_writers: usize,
    pub program: Program,
}

impl Validate for LoyaltySettings {
    fn validate(&self, p: &mut Vec<String>) {
        self.paging().validate("loyalty", p);
        if !(1..=10_000).contains(&self.ledger_page_size) {
            p.push("loyalty.ledger_page_size: must be between 1 and 10000".into());
        }
        if !(1..=10_000).contains(&self.group_commit_max_batch)
            || !(1..=64).contains(&self.group_commit_writers)
        {
            p.push(
                "loyalty: need 1 <= group_commit_max_batch <= 10000 and 1 <= group_commit_writers <= 64"
                    .into(),
            );
        }
        validate_retention("loyalty", self.idempotency_retention_hours, p);
        self.program.validate(p);
    }
}

impl LoyaltySettings {
    /// Page-size bounds of the list calls.
    pub fn paging(&self) -> Paging {
        Paging::new(self.default_page_size, self.max_page_size)
    }
}

crm_platform::service_settings!(Settings, DEFAULTS, { loyalty: LoyaltySettings });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = Settings::load(None).expect("defaults load");
        assert_eq!(s.loyalty.program.expire_after_months, 24);
        assert_eq!(s.loyalty.program.action_awards.get("review"), Some(&50));
        assert_eq!(s.loyalty.program.limits.max_points_per_call, 10_000_000);
    }

    #[test]
    fn unbounded_settings_are_refused_at_load() {
        let mut s = Settings::load(None).expect("defaults").loyalty;
        s.ledger_page_size = 0;
        s.max_page_size = u32::MAX;
        s.default_page_size = 1;
        s.group_commit_max_batch = usize::MAX;
        s.idempotency_retention_hours = u64::MAX;
        s.program.limits.max_balance = i64::MAX;
        let mut problems = Vec::new();
        s.validate(&mut problems);
        assert_eq!(problems.len(), 5, "{problems:?}");
    }
}
