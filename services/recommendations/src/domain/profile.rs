//! What cold start knows of a customer: language, city, tier and tags, from customers'
//! profile and loyalty's tier. Each gives a cohort (`{kind}:{value}`) whose popularity a
//! customer with no history is served before global popularity.
use serde::{Deserialize, Serialize};

/// A customer's profile as recommendations keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The primary language subtag, lower-case ("ja" of "ja-JP"); "" when unknown.
    pub language: String,
    /// The city of the first address, lower-case; "" when unknown.
    pub city: String,
    /// The loyalty tier code, lower-case; "" when unknown.
    pub tier: String,
    pub tags: Vec<String>,
}

/// The kinds of cohort, most specific first: the order cold start tries them in.
pub const COHORT_KINDS: [&str; 3] = ["city", "language", "tier"];

impl Profile {
    /// The customer's cohorts, most specific first, e.g. ["city:kyoto", "language:ja"].
    pub fn cohorts(&self) -> Vec<String> {
        [
            ("city", &self.city),
            ("language", &self.language),
            ("tier", &self.tier),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}:{v}"))
        .collect()
    }
}

/// A cohort as a request names it (`{kind}:{value}`, kind one of [`COHORT_KINDS`]).
pub fn parse_cohort(s: &str) -> Result<String, String> {
    match s.split_once(':') {
        Some((kind, value))
            if COHORT_KINDS.contains(&kind)
                && !value.is_empty()
                && value.len() <= 200
                && !value.chars().any(char::is_control) =>
        {
            Ok(format!("{kind}:{}", value.to_lowercase()))
        }
        _ => Err("must be city:{value}, language:{value} or tier:{value}".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cohorts_most_specific_first() {
        let p = Profile {
            language: "ja".into(),
            city: "kyoto".into(),
            ..Profile::default()
        };
        assert_eq!(p.cohorts(), ["city:kyoto", "language:ja"]);
        assert!(Profile::default().cohorts().is_empty());
        assert_eq!(parse_cohort("tier:Gold"), Ok("tier:gold".to_owned()));
        assert!(parse_cohort("planet:mars").is_err());
        assert!(parse_cohort("city:").is_err());
    }
}
