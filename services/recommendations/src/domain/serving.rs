//! The shape of an answer: recommended items with their reasons.
use super::ItemId;
use super::model::Rule;

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
