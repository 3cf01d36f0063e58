//! Settings of the recommendations binary: the platform sections plus `[recommendations]`,
//! whose documented defaults are embedded from `config/recommendations.toml`.
use crate::domain::Weights;
use crate::domain::model::BuildParams;
use crm_platform::config::Validate;
use crm_platform::idempotency::validate_retention;
use crm_platform::paging::Paging;
use serde::Deserialize;

pub const DEFAULTS: &str = include_str!("../config/recommendations.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendationsSettings {
    pub default_page_size: u32,
    pub max_page_size: u32,
    pub idempotency_retention_hours: u64,
    pub weights: Weights,
    pub model: BuildParams,
    pub rebuild: RebuildSettings,
    pub serving: ServingSettings,
    pub profiles: ProfileSettings,
    pub clients: ClientsSettings,
}

/// `[recommendations.rebuild]`: the rebuild job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebuildSettings {
    pub interval_secs: u64,
    pub max_interactions: u64,
    pub max_items_per_customer: u32,
    pub keep_versions: u32,
}

/// `[recommendations.serving]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServingSettings {
    pub history: u32,
    pub buy_again_min_orders: u32,
    pub max_candidates: u32,
    pub recommendation_retention_days: u32,
    pub purge_interval_secs: u64,
    pub served_queue: u32,
    pub served_flush_ms: u64,
}

/// `[recommendations.profiles]`: the profile refresh job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSettings {
    pub refresh_interval_ms: u64,
    pub page: u32,
}

/// `[recommendations.clients]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientsSettings {
    pub customers_url: String,
    pub timeout_ms: u64,
}

impl RecommendationsSettings {
    /// Page-size bounds of the list calls.
    pub fn paging(&self) -> Paging {
        Paging::new(self.default_page_size, self.max_page_size)
    }
}

/// `value` in `range`, else a problem `{section}.{key}`.
fn bounded(
    p: &mut Vec<String>,
    section: &str,
    key: &str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
) {
    if !range.contains(&value) {
        p.push(format!(
            "{section}.{key}: must be {}..={}",
            range.start(),
            range.end()
        ));
    }
}

impl Validate for RecommendationsSettings {
    fn validate(&self, p: &mut Vec<String>) {
        let s = "recommendations";
        self.paging().validate(s, p);
        validate_retention(s, self.idempotency_retention_hours, p);
        self.weights.validate("recommendations.weights", p);
        self.model.validate("recommendations.model", p);
        let r = &self.rebuild;
        let rs = "recommendations.rebuild";
        bounded(p, rs, "interval_secs", r.interval_secs, 0..=30 * 86_400);
        bounded(
            p,
            rs,
            "max_interactions",
            r.max_interactions,
            1..=100_000_000,
        );
        bounded(
            p,
            rs,
            "max_items_per_customer",
            r.max_items_per_customer.into(),
            1..=100_000,
        );
        bounded(p, rs, "keep_versions", r.keep_versions.into(), 1..=100);
        let v = &self.serving;
        let vs = "recommendations.serving";
        bounded(p, vs, "history", v.history.into(), 1..=1000);
        bounded(
            p,
            vs,
            "buy_again_min_orders",
            v.buy_again_min_orders.into(),
            2..=1000,
        );
        bounded(
            p,
            vs,
            "max_candidates",
            v.max_candidates.into(),
            10..=10_000,
        );
        bounded(
            p,
            vs,
            "served_queue",
            v.served_queue.into(),
            100..=1_000_000,
        );
        bounded(p, vs, "served_flush_ms", v.served_flush_ms, 10..=10_000);
        bounded(
            p,
            vs,
            "purge_interval_secs",
            v.purge_interval_secs,
            0..=86_400,
        );
        bounded(
            p,
            vs,
            "recommendation_retention_days",
            v.recommendation_retention_days.into(),
            1..=3650,
        );
        let f = &self.profiles;
        bounded(
            p,
            "recommendations.profiles",
            "refresh_interval_ms",
            f.refresh_interval_ms,
            0..=86_400_000,
        );
        bounded(
            p,
            "recommendations.profiles",
            "page",
            f.page.into(),
            1..=1000,
        );
        bounded(
            p,
            "recommendations.clients",
            "timeout_ms",
            self.clients.timeout_ms,
            1..=600_000,
        );
    }
}

// `Settings`: the platform sections plus `recommendations`, and `Settings::load(file)`.
crm_platform::service_settings!(Settings, DEFAULTS, { recommendations: RecommendationsSettings });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let s = Settings::load(None).expect("defaults load");
        assert_eq!(s.recommendations.paging(), Paging::new(50, 1000));
        assert_eq!(s.recommendations.model.top_k, 200);
        assert_eq!(
            s.recommendations.model.similarity,
            crate::domain::model::Similarity::Ease
        );
    }

    #[test]
    fn bad_settings_are_refused_with_every_problem() {
        let mut s = Settings::load(None).expect("defaults").recommendations;
        s.default_page_size = 0;
        s.model.top_k = 0;
        s.serving.history = 0;
        s.weights.view = -1.0;
        let mut problems = Vec::new();
        s.validate(&mut problems);
        assert_eq!(problems.len(), 4, "{problems:?}");
    }
}
