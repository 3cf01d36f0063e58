//! The shape of the serving calls: what each asks (parsed and bounded by the adapter), the
//! answer (recommended items with their reasons), what is kept of an answer for feedback.
use super::filter::{Boost, ItemFilter};
use super::model::Rule;
use super::{CustomerId, ItemId, RecommendationId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `max_results` when a request gives 0, and the most it may ask.
pub const DEFAULT_RESULTS: usize = 10;
pub const MAX_RESULTS: usize = 100;
/// Items of one BoughtTogether cart and of one RecordFeedback call.
pub const MAX_CART: usize = 100;
pub const MAX_FEEDBACK_ITEMS: usize = 100;

/// Why an item was recommended (the proto's ReasonKind).
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    SimilarTo(ItemId),
    BoughtWith(ItemId),
    BuyAgain,
    Popular,
    PopularInCategory(String),
    PopularInCohort(String),
    SameCategoryAndTags(ItemId),
    /// No model yet: an item of the catalogue (served as POPULAR, "in the catalogue").
    InCatalogue,
}

impl Reason {
    /// The reason in words, e.g. "bought with items/sku-1".
    pub fn text(&self) -> String {
        match self {
            Self::SimilarTo(i) => format!("similar to {}", i.name()),
            Self::BoughtWith(i) => format!("bought with {}", i.name()),
            Self::BuyAgain => "bought before, due again".to_owned(),
            Self::Popular => "popular".to_owned(),
            Self::PopularInCategory(c) => format!("popular in {c}"),
            Self::PopularInCohort(c) => format!("popular with {c}"),
            Self::SameCategoryAndTags(i) => format!("like {}", i.name()),
            Self::InCatalogue => "in the catalogue".to_owned(),
        }
    }
}

/// One recommended item.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommended {
    pub item: ItemId,
    pub score: f64,
    /// Strongest first; at least one.
    pub reasons: Vec<Reason>,
    /// For BoughtTogether.
    pub rule: Option<Rule>,
}

/// Which call served an answer (the `recommendations.method` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    ForCustomer,
    Similar,
    BoughtTogether,
    Popular,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ForCustomer => "for_customer",
            Self::Similar => "similar",
            Self::BoughtTogether => "bought_together",
            Self::Popular => "popular",
        }
    }
}

/// An answer: its id (for feedback), items best first, the model version it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub id: super::RecommendationId,
    pub items: Vec<Recommended>,
    pub model_version: i64,
    pub cold_start: bool,
}

/// RecommendForCustomer.
#[derive(Debug, Clone, PartialEq)]
pub struct ForCustomer {
    pub customer: CustomerId,
    pub max_results: usize,
    pub filter: ItemFilter,
    pub boosts: Vec<Boost>,
    /// 0: no limit.
    pub max_per_category: usize,
    pub include_consumed: bool,
    /// 0..=1.
    pub exploration: f64,
    pub scenario: String,
}

/// SimilarItems.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarTo {
    pub item: ItemId,
    pub max_results: usize,
    pub filter: ItemFilter,
    pub max_per_category: usize,
    pub customer: Option<CustomerId>,
    pub scenario: String,
}

/// BoughtTogether.
#[derive(Debug, Clone, PartialEq)]
pub struct Together {
    /// 1..=MAX_CART, no repeats.
    pub cart: Vec<ItemId>,
    pub max_results: usize,
    pub filter: ItemFilter,
    /// Rules below are left out (0 in the request is 1).
    pub min_lift: f64,
    pub min_confidence: f64,
    pub customer: Option<CustomerId>,
    pub scenario: String,
}

/// PopularItems.
#[derive(Debug, Clone, PartialEq)]
pub struct PopularQuery {
    pub max_results: usize,
    /// "" all.
    pub category: String,
    /// `{kind}:{value}`, "" everyone.
    pub cohort: String,
    pub filter: ItemFilter,
    pub customer: Option<CustomerId>,
    pub scenario: String,
}

/// An outcome RecordFeedback attributes (the `feedback.kind` column, the proto's number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FeedbackKind {
    Shown,
    Clicked,
    Converted,
}

impl FeedbackKind {
    pub const ALL: [Self; 3] = [Self::Shown, Self::Clicked, Self::Converted];

    pub fn code(self) -> i16 {
        match self {
            Self::Shown => 1,
            Self::Clicked => 2,
            Self::Converted => 3,
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| i32::from(k.code()) == code)
    }
}

/// RecordFeedback.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub recommendation: RecommendationId,
    /// No repeats.
    pub items: Vec<ItemId>,
    pub kind: FeedbackKind,
    /// None: now.
    pub occur_time: Option<DateTime<Utc>>,
}

/// What RecordFeedback answers: outcomes newly recorded and the recommendation's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackCounts {
    pub recorded: u64,
    pub shown: u64,
    pub clicked: u64,
    pub converted: u64,
}

/// A served answer as kept for feedback (the `recommendations` row).
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    pub id: RecommendationId,
    pub customer: Option<CustomerId>,
    pub method: Method,
    pub scenario: String,
    /// In served order.
    pub items: Vec<ItemId>,
    pub model_version: i64,
    pub create_time: DateTime<Utc>,
}

impl Method {
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::ForCustomer,
            Self::Similar,
            Self::BoughtTogether,
            Self::Popular,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}
