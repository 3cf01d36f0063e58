//! Settings of the customers binary: the platform sections plus `[customers]`.
use crate::domain::insights::RfmThresholds;
use crm_platform::config::{ConfigError, Loader, PlatformSettings, Validate};
use serde::Deserialize;
use std::path::Path;

pub const DEFAULTS: &str = include_str!("../config/customers.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomersSettings {
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub max_batch: usize,
    /// Rows an ImportCustomers transaction writes at once.
    pub import_batch_size: usize,
    /// An import stream silent for this long is ended (DEADLINE_EXCEEDED).
    pub import_idle_timeout_ms: u64,
    pub idempotency_retention_hours: u64,
    pub insights: RfmThresholds,
}

impl Validate for CustomersSettings {
    fn validate(&self, p: &mut Vec<String>) {
        if self.default_page_size == 0 || self.default_page_size > self.max_page_size {
            p.push("customers: need 0 < default_page_size <= max_page_size".into());
        }
        if self.max_batch == 0 {
            p.push("customers.max_batch: must be > 0".into());
        }
        if !(1..=10_000).contains(&self.import_batch_size) {
            p.push("customers.import_batch_size: must be 1..=10000".into());
        }
        if self.import_idle_timeout_ms == 0 {
            p.push("customers.import_idle_timeout_ms: must be > 0".into());
        }
        let t = &self.insights;
        for (name, b) in [
            ("recency_days", t.recency_days),
            ("frequency_orders", t.frequency_orders),
            ("monetary_minor", t.monetary_minor),
        ] {
            if b.windows(2).any(|w| w[0] >= w[1]) || b[0] < 0 {
                p.push(format!(
                    "customers.insights.{name}: must be increasing and >= 0"
                ));
            }
        }
        if t.default_purchase_gap_days <= 0 {
            p.push("customers.insights.default_purchase_gap_days: must be > 0".into());
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub platform: PlatformSettings,
    pub customers: CustomersSettings,
}

impl Settings {
    /// Embedded defaults -> `file` -> `CRM_*` env, validated.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut l = Loader::new(&[DEFAULTS], file)?;
        let platform = l.platform();
        let customers = l.section("customers");
        let value = platform.zip(customers).map(|(platform, customers)| Self {
            platform,
            customers,
        });
        l.finish(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = Settings::load(None).expect("defaults load");
        assert_eq!(s.customers.insights.recency_days, [30, 90, 180, 365]);
    }
}
