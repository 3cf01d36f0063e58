//! The rules of this service, pure: no tonic, sea-orm, redis or IO, so every rule is
//! unit-tested here without a database. The service loads values, asks these functions what
//! to do and writes the result.
//!
//! - [`segment`]: the rule tree of a segment, its bounds and validation.
//! - [`campaign`]: a campaign, its lifecycle (a status machine like tickets') and schedule.
//! - [`template`]: message templates (MiniJinja, strict placeholders).
//! - [`sending`]: the per-recipient rules at send time: quiet hours, frequency caps,
//!   variant assignment.
//! - [`member`]: a customer as the read model keeps it, and the sealed profile.
//! - [`experiment`]: holdout and test-then-winner assignment, the winner's choice.
//! - [`journey`]: care journeys' triggers, occasions, due times and tiered variants.
//! - [`report`]: conversion rates, lift and its confidence interval.
//! - [`coupon`]: coupon pools and their codes.
pub mod campaign;
pub mod coupon;
pub mod experiment;
pub mod journey;
pub mod member;
pub mod report;
pub mod segment;
pub mod sending;
pub mod template;

crm_platform::resource_id!(SegmentId, "segments");
crm_platform::resource_id!(CampaignId, "campaigns");
crm_platform::resource_id!(CustomerId, "customers");
crm_platform::resource_id!(CouponPoolId, "couponPools");

impl CustomerId {
    /// `members/{customer}`: the customer as the read model knows it.
    pub fn member_name(&self) -> String {
        format!("members/{}", self.0)
    }

    /// The customer of `members/{customer}`.
    pub fn parse_member_name(name: &str) -> Result<Self, crm_platform::ids::NameError> {
        crm_platform::ids::parse_name(name, "members").map(Self)
    }
}

/// Timestamps are stored with microsecond precision (PostgreSQL's), so values are cut to it
/// before they are compared or hashed.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    let now = chrono::Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}
