//! Settings of the customers binary: the platform sections plus `[customers]`.
use crate::domain::insights::RfmThresholds;
use crm_platform::config::Validate;
use crm_platform::idempotency::validate_retention;
use crm_platform::paging::Paging;
use serde::Deserialize;

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
    pub limits: InputLimits,
    pub erasure: ErasureSettings,
}

/// `[customers.erasure]`: who has to report an erasure done.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ErasureSettings {
    /// The services that hold customer data and answer CustomerErased with
    /// ErasureCompleted; customers consumes each one's stream (group `customers.erasure`).
    pub reporting_services: Vec<String>,
}

/// Bounds on what one request may carry (`[customers.limits]`); the defaults are in
/// `config/customers.toml` with the reasons.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InputLimits {
    /// Largest activity amount or unit price, in whole units of its currency.
    pub max_amount_major: i64,
    /// Largest quantity of one purchase item.
    pub max_quantity: i64,
    /// Items of one activity.
    pub max_items: usize,
    /// Additional e-mail addresses of one customer.
    pub max_emails: usize,
    pub max_phones: usize,
    pub max_addresses: usize,
    pub max_tags: usize,
    pub max_important_dates: usize,
    /// Entries at any one level of the custom attributes, and at most this many in a list.
    pub max_attributes: usize,
    /// Nesting of the custom attributes: 1 is a flat map of plain values.
    pub max_attribute_depth: usize,
    /// The custom attributes as compact JSON, in bytes.
    pub max_attributes_bytes: usize,
}

impl InputLimits {
    fn validate(&self, p: &mut Vec<String>) {
        let counts = [
            ("max_items", self.max_items),
            ("max_emails", self.max_emails),
            ("max_phones", self.max_phones),
            ("max_addresses", self.max_addresses),
            ("max_tags", self.max_tags),
            ("max_important_dates", self.max_important_dates),
            ("max_attributes", self.max_attributes),
            ("max_attribute_depth", self.max_attribute_depth),
            ("max_attributes_bytes", self.max_attributes_bytes),
        ];
        for (name, n) in counts {
            if n == 0 || n > 1_000_000 {
                p.push(format!("customers.limits.{name}: must be 1..=1000000"));
            }
        }
        // Far below i64::MAX even in a currency with 4 decimals, so sums stay exact.
        if !(1..=1_000_000_000_000).contains(&self.max_amount_major) {
            p.push("customers.limits.max_amount_major: must be 1..=1000000000000".into());
        }
        if !(1..=i64::from(i32::MAX)).contains(&self.max_quantity) {
            p.push("customers.limits.max_quantity: must be 1..=2147483647".into());
        }
    }
}

impl Validate for CustomersSettings {
    fn validate(&self, p: &mut Vec<String>) {
        self.paging().validate("customers", p);
        validate_retention("customers", self.idempotency_retention_hours, p);
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
        if !(1..=36_500).contains(&t.default_purchase_gap_days) {
            p.push("customers.insights.default_purchase_gap_days: must be 1..=36500".into());
        }
        self.limits.validate(p);
        crate::domain::erasure::validate_reporting_services(&self.erasure.reporting_services, p);
    }
}

impl CustomersSettings {
    /// Page-size bounds of the list calls.
    pub fn paging(&self) -> Paging {
        Paging::new(self.default_page_size, self.max_page_size)
    }
}

crm_platform::service_settings!(Settings, DEFAULTS, { customers: CustomersSettings });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = Settings::load(None).expect("defaults load");
        assert_eq!(s.customers.insights.recency_days, [30, 90, 180, 365]);
        assert_eq!(s.customers.limits.max_amount_major, 1_000_000_000);
        assert_eq!(
            s.customers.erasure.reporting_services,
            ["loyalty", "tickets", "campaigns", "recommendations"]
        );
    }

    #[test]
    fn bad_limits_are_refused_at_load() {
        let file =
            std::env::temp_dir().join(format!("crm-customers-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(
            &file,
            "[customers.limits]\nmax_amount_major = 0\nmax_tags = 0\nmax_quantity = 9223372036854775807\n",
        )
        .expect("write config");
        let err = Settings::load(Some(&file)).expect_err("bad limits");
        std::fs::remove_file(&file).ok();
        let limits: Vec<_> = err
            .0
            .iter()
            .filter(|p| p.starts_with("customers.limits."))
            .collect();
        assert_eq!(limits.len(), 3, "{:?}", err.0);
    }

    #[test]
    fn bad_reporting_services_are_refused_at_load() {
        let file =
            std::env::temp_dir().join(format!("crm-customers-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(
            &file,
            "[customers.erasure]\nreporting_services = [\"loyalty\", \"loyalty\", \"Tickets\"]\n",
        )
        .expect("write config");
        let err = Settings::load(Some(&file)).expect_err("bad services");
        std::fs::remove_file(&file).ok();
        let erasure: Vec<_> = err
            .0
            .iter()
            .filter(|p| p.starts_with("customers.erasure.reporting_services["))
            .collect();
        assert_eq!(erasure.len(), 2, "{:?}", err.0);
    }
}
