//! Experiments: the holdout (a control share that receives nothing) and "test then winner"
//! (a test share gets the variants by weight; after the test duration the variant with the
//! best rate is sent to the rest). Assignment is a stable hash of campaign and customer, so
//! a customer is always in the same arm.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    ConversionRate,
    ClickRate,
    OpenRate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Experiment {
    /// Percent of the audience after the holdout that gets the test, 1 to 90.
    pub test_percent: u8,
    /// Seconds after the start when the winner is chosen.
    pub test_duration_secs: u32,
    pub metric: Metric,
}

/// Where one recipient of a campaign is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    /// In the control group.
    Holdout,
    /// Gets a variant now (the whole audience when there is no experiment).
    Test,
    /// Waits for the experiment's winner.
    Rest,
}

/// The arm of `customer` in `campaign`. H1: a stable hash of both; until then everyone is
/// in the test.
pub fn assign(
    campaign: uuid::Uuid,
    customer: uuid::Uuid,
    holdout_percent: u8,
    experiment: Option<&Experiment>,
) -> Arm {
    let _ = (campaign, customer, holdout_percent, experiment);
    Arm::Test
}

/// One variant's test counts, for the winner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantCounts {
    pub variant: String,
    /// Recipients due (the conversion rate's denominator).
    pub recipients: u64,
    pub sent: u64,
    pub opened: u64,
    pub clicked: u64,
    pub converted: u64,
}

/// The winner by `metric` (ties: the first in `counts`' order, the campaign's). H1.
pub fn pick_winner(counts: &[VariantCounts], metric: Metric) -> Option<String> {
    let _ = metric;
    counts.first().map(|c| c.variant.clone())
}
