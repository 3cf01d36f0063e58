//! Settings of the loyalty binary: the platform sections plus `[loyalty]`.
use crate::domain::Program;
use crm_platform::config::{ConfigError, Loader, PlatformSettings, Validate};
use serde::Deserialize;
use std::path::Path;

pub const DEFAULTS: &str = include_str!("../config/loyalty.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoyaltySettings {
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub idempotency_retention_hours: u64,
    /// Seconds between background expiry runs; 0 disables the job.
    pub expire_interval_secs: u64,
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
        if self.default_page_size == 0 || self.default_page_size > self.max_page_size {
            p.push("loyalty: need 0 < default_page_size <= max_page_size".into());
        }
        if self.group_commit_max_batch == 0 || self.group_commit_writers == 0 {
            p.push("loyalty: group_commit_max_batch and group_commit_writers must be > 0".into());
        }
        self.program.validate(p);
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub platform: PlatformSettings,
    pub loyalty: LoyaltySettings,
}

impl Settings {
    /// Embedded defaults -> `file` -> `CRM_*` env, validated.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut l = Loader::new(&[DEFAULTS], file)?;
        let platform = l.platform();
        let loyalty = l.section("loyalty");
        let value = platform
            .zip(loyalty)
            .map(|(platform, loyalty)| Self { platform, loyalty });
        l.finish(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = Settings::load(None).expect("defaults load");
        assert_eq!(s.loyalty.program.expire_after_months, 24);
        assert_eq!(s.loyalty.program.action_awards.get("review"), Some(&50));
    }
}
