//! Coupon pools: unique codes, uploaded or generated, each given to one customer exactly once
//! (the claim is a conditional UPDATE of one free code; the claim key makes a repeat return
//! the same code).
use super::CouponPoolId;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Bounds of coupon pools (`[campaigns.coupons]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouponLimits {
    pub max_display_name_chars: usize,
    /// Codes per AddCouponCodes call.
    pub max_codes_per_call: usize,
    /// Codes per GenerateCouponCodes call.
    pub max_generate_per_call: u32,
    /// Codes in one pool.
    pub max_codes_per_pool: u64,
}

impl CouponLimits {
    pub fn validate(&self, at: &str, p: &mut Vec<String>) {
        use crate::settings::bounded;
        bounded(
            p,
            &format!("{at}.max_display_name_chars"),
            self.max_display_name_chars as u64,
            10_000,
        );
        bounded(
            p,
            &format!("{at}.max_codes_per_call"),
            self.max_codes_per_call as u64,
            100_000,
        );
        bounded(
            p,
            &format!("{at}.max_generate_per_call"),
            self.max_generate_per_call.into(),
            1_000_000,
        );
        bounded(
            p,
            &format!("{at}.max_codes_per_pool"),
            self.max_codes_per_pool,
            100_000_000,
        );
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponPool {
    pub id: CouponPoolId,
    pub display_name: String,
    pub revision: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// A pool with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolCounts {
    pub codes: u64,
    pub claimed: u64,
}

/// The claim key of a campaign recipient's code.
pub fn delivery_claim_key(delivery: uuid::Uuid) -> String {
    format!("deliveries/{delivery}")
}

/// The claim key of ClaimCoupon: one code per customer and pool.
pub fn customer_claim_key(customer: super::CustomerId) -> String {
    customer.name()
}
