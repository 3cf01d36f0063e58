//! The model: what a rebuild computes from interactions and serving reads. The algorithms
//! work on dense indices (`u32` items and users) so that the service's rebuild and the `eval`
//! subcommand run the very same code; the stored form names items by [`ItemId`].
//!
//! - [`similarity`]: item-item similarity from co-occurrence (cosine, jaccard, lift) with
//!   time decay and a minimum support, top-K neighbours per item.
//! - [`ease`]: EASE, item-item weights by closed-form ridge regression (dense, bounded by
//!   the catalogue size; the sparse cosine above the bound), stored as the same top-K lists.
//! - [`rules`]: association rules over baskets (support, confidence, lift).
//! - [`popularity`]: time-decayed popularity.
//! - [`scoring`]: a customer's history against the neighbours: candidate scores with the
//!   item each comes from.
pub mod ease;
pub mod popularity;
pub mod rules;
pub mod scoring;
pub mod similarity;
pub mod sparse;

use super::ItemId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One interaction as the algorithms read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub user: u32,
    pub item: u32,
    /// The interaction's weight (kind default or the caller's).
    pub weight: f32,
    /// Age at build time, in days (>= 0), for the time decay.
    pub age_days: f32,
}

/// How co-occurrence becomes similarity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Similarity {
    #[default]
    Cosine,
    Jaccard,
    Lift,
    /// EASE regression weights ([`ease`]); the cosine above `ease_max_items`.
    Ease,
}

impl Similarity {
    pub const ALL: [Self; 4] = [Self::Cosine, Self::Jaccard, Self::Lift, Self::Ease];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::Jaccard => "jaccard",
            Self::Lift => "lift",
            Self::Ease => "ease",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The knobs of a build (`[recommendations.model]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildParams {
    pub similarity: Similarity,
    /// An interaction's weight halves every this many days; 0: no decay.
    pub half_life_days: f64,
    /// Pairs seen together by fewer customers (baskets, for rules) are dropped.
    pub min_support: u32,
    /// A similarity resting on `n` customers is multiplied by `n / (n + shrinkage)`; 0: none.
    pub shrinkage: f64,
    /// Cosine only: the seed's norm counts `alpha`, the candidate's `1 - alpha` (0.5: the
    /// plain cosine; higher discounts popular seeds, lower popular candidates).
    pub alpha: f64,
    /// A customer's co-occurrences count `1 / items^customer_penalty` (items: those they
    /// interacted with): a customer who saw everything says little about any one pair.
    /// 0: every customer counts the same.
    pub customer_penalty: f64,
    /// A candidate's similarity is divided by `customers^popularity_penalty` (its customer
    /// count): the items everyone has are not everyone's neighbour. 0: none.
    pub popularity_penalty: f64,
    /// Each item's neighbour scores are divided by its best one (1.0 first).
    pub normalize: bool,
    /// Neighbours (and rules) kept per item.
    pub top_k: usize,
    /// Items kept per popularity list (global, per category, per cohort).
    pub popular_top_n: usize,
    /// EASE only: the ridge penalty λ (larger: closer to plain co-occurrence).
    pub ease_lambda: f64,
    /// EASE only: its dense inverse is built while at most this many items have
    /// interactions (memory items² x 8 bytes, time items³); above it, the cosine.
    pub ease_max_items: usize,
}

impl Default for BuildParams {
    /// The shipped defaults, those of `config/recommendations.toml` (a test holds them equal).
    fn default() -> Self {
        Self {
            similarity: Similarity::Ease,
            half_life_days: 0.0,
            min_support: 2,
            shrinkage: 0.0,
            alpha: 0.8,
            customer_penalty: 0.0,
            popularity_penalty: 0.2,
            normalize: false,
            top_k: 200,
            popular_top_n: 200,
            ease_lambda: 500.0,
            ease_max_items: 3000,
        }
    }
}

impl BuildParams {
    pub fn validate(&self, section: &str, p: &mut Vec<String>) {
        if !(0.0..=36_500.0).contains(&self.half_life_days) {
            p.push(format!("{section}.half_life_days: must be 0..=36500"));
        }
        if !(1..=1_000_000).contains(&self.min_support) {
            p.push(format!("{section}.min_support: must be 1..=1000000"));
        }
        if !(0.0..=10_000.0).contains(&self.shrinkage) {
            p.push(format!("{section}.shrinkage: must be 0..=10000"));
        }
        if !(0.0..=1.0).contains(&self.alpha) {
            p.push(format!("{section}.alpha: must be 0..=1"));
        }
        if !(0.0..=2.0).contains(&self.customer_penalty) {
            p.push(format!("{section}.customer_penalty: must be 0..=2"));
        }
        if !(0.0..=2.0).contains(&self.popularity_penalty) {
            p.push(format!("{section}.popularity_penalty: must be 0..=2"));
        }
        if !(1..=1000).contains(&self.top_k) {
            p.push(format!("{section}.top_k: must be 1..=1000"));
        }
        if !(1..=10_000).contains(&self.popular_top_n) {
            p.push(format!("{section}.popular_top_n: must be 1..=10000"));
        }
        if !(0.001..=1e9).contains(&self.ease_lambda) {
            p.push(format!("{section}.ease_lambda: must be 0.001..=1e9"));
        }
        if !(1..=20_000).contains(&self.ease_max_items) {
            p.push(format!("{section}.ease_max_items: must be 1..=20000"));
        }
    }

    /// The decay factor of an interaction `age_days` old.
    pub fn decay(&self, age_days: f32) -> f32 {
        if self.half_life_days <= 0.0 {
            1.0
        } else {
            (-(f64::from(age_days.max(0.0))) * std::f64::consts::LN_2 / self.half_life_days).exp()
                as f32
        }
    }
}

/// A neighbour on the dense indices: the item, its similarity and the customers (or
/// baskets) behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub item: u32,
    pub score: f32,
    pub support: u32,
}

/// A neighbour as stored (JSON in `item_models.neighbours`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    pub item: ItemId,
    pub score: f32,
    pub support: u32,
}

/// An association rule "antecedent -> item" as stored (JSON in `item_models.rules`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub item: ItemId,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub count: u32,
}

/// What a model version holds for one item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemModel {
    /// Most similar first.
    pub neighbours: Vec<Neighbour>,
    /// Strongest (by lift, then confidence) first.
    pub rules: Vec<Rule>,
}

/// An entry of a popularity list (JSON in `popular_lists.items`), most popular first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Popular {
    pub item: ItemId,
    pub score: f64,
}

/// The scope of a popularity list: everything, a category path, a cohort.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    All,
    Category(String),
    Cohort(String),
}

impl Scope {
    /// The stored key: "", "category:{path}", "cohort:{kind}:{value}".
    pub fn key(&self) -> String {
        match self {
            Self::All => String::new(),
            Self::Category(c) => format!("category:{c}"),
            Self::Cohort(c) => format!("cohort:{c}"),
        }
    }
}

/// A published model version (the `model_versions` row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub version: i64,
    pub similarity: Similarity,
    pub build_time: DateTime<Utc>,
    pub build_duration_ms: i64,
    pub interaction_count: i64,
    pub customer_count: i64,
    pub item_count: i64,
    /// The newest interaction (record time) the build read.
    pub last_interaction_time: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_shipped_configuration() {
        let s = crate::Settings::load(None).expect("defaults load");
        assert_eq!(s.recommendations.model, BuildParams::default());
        let mut problems = Vec::new();
        BuildParams::default().validate("m", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn bad_knobs_are_named() {
        let p = BuildParams {
            shrinkage: f64::NAN,
            alpha: 1.5,
            half_life_days: -1.0,
            ..BuildParams::default()
        };
        let mut problems = Vec::new();
        p.validate("m", &mut problems);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn decay_halves_every_half_life() {
        let p = BuildParams {
            half_life_days: 10.0,
            ..BuildParams::default()
        };
        assert!((p.decay(20.0) - 0.25).abs() < 1e-6);
        assert!((p.decay(10.0) - 0.5).abs() < 1e-6);
        assert!((p.decay(0.0) - 1.0).abs() < 1e-6);
        let none = BuildParams {
            half_life_days: 0.0,
            ..BuildParams::default()
        };
        assert_eq!(none.decay(1000.0), 1.0);
    }
}
