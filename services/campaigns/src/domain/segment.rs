//! The rule tree of a segment, its bounds and validation (helper H1 fills this module).
use serde::{Deserialize, Serialize};

/// Bounds of a segment (`[campaigns.segments]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentLimits {
    pub max_display_name_chars: usize,
    pub max_description_chars: usize,
    pub max_rule_depth: usize,
    pub max_rule_conditions: usize,
    pub default_preview_size: u32,
    pub max_preview_size: u32,
}

impl SegmentLimits {
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
            &format!("{at}.max_description_chars"),
            self.max_description_chars as u64,
            100_000,
        );
        bounded(
            p,
            &format!("{at}.max_rule_depth"),
            self.max_rule_depth as u64,
            32,
        );
        bounded(
            p,
            &format!("{at}.max_rule_conditions"),
            self.max_rule_conditions as u64,
            1000,
        );
        bounded(
            p,
            &format!("{at}.max_preview_size"),
            self.max_preview_size.into(),
            1000,
        );
        if self.default_preview_size == 0 || self.default_preview_size > self.max_preview_size {
            p.push(format!(
                "{at}.default_preview_size must be 1..=max_preview_size"
            ));
        }
    }
}

/// A segment's rule tree, stored as JSON in `segments.rule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rule {
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Not(Box<Rule>),
}

/// A saved segment. STUB on main until merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: super::SegmentId,
    pub rule: Rule,
}
