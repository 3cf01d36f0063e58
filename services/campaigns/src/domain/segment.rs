//! A segment: a rule tree (all / any / not over conditions on the read model), its bounds,
//! and the pure date arithmetic its relative-date conditions need ("birthday within 7 days"
//! in each member's time zone). Stored as JSON in `segments.rule`; the store compiles it to
//! parameterised SQL (`store::segments`), the adapter parses it from proto.
use super::SegmentId;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
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

/// Rules of one group (all / any), values of one list, and the other fixed bounds of the
/// proto contract (segment.proto).
pub const MAX_GROUP_RULES: usize = 50;
pub const MAX_VALUES: usize = 100;
pub const MAX_TRAIT_VALUE_CHARS: usize = 200;
pub const MAX_CODE_CHARS: usize = 64;
pub const MAX_ITEM_ID_CHARS: usize = 128;
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 64;
pub const MAX_WITHIN_DAYS: u16 = 366;
pub const MAX_LOOKBACK_DAYS: u16 = 3660;
pub const MAX_MIN_COUNT: u32 = 1_000_000;
pub const MAX_COMPARED_VALUE: i64 = 1_000_000_000_000_000;

/// crm.tickets.v1.Category::Complaint: what "an open complaint" counts (segments,
/// suppression and GetMember alike).
pub const COMPLAINT_CATEGORY: i32 = 2;

#[cfg(test)]
#[test]
fn the_complaint_category_is_tickets_own() {
    assert_eq!(
        COMPLAINT_CATEGORY,
        crm_proto::tickets::Category::Complaint as i32
    );
}

/// A segment's rule tree, stored as JSON in `segments.rule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Every rule holds (AND).
    All(Vec<Rule>),
    /// At least one holds (OR).
    Any(Vec<Rule>),
    Not(Box<Rule>),
    Condition(Condition),
}

impl Rule {
    /// Levels of groups and negations above the deepest condition (a lone condition is 1).
    pub fn depth(&self) -> usize {
        match self {
            Self::All(rules) | Self::Any(rules) => {
                1 + rules.iter().map(Rule::depth).max().unwrap_or(0)
            }
            Self::Not(rule) => 1 + rule.depth(),
            Self::Condition(_) => 1,
        }
    }

    /// Conditions in the whole tree.
    pub fn conditions(&self) -> usize {
        match self {
            Self::All(rules) | Self::Any(rules) => rules.iter().map(Rule::conditions).sum(),
            Self::Not(rule) => rule.conditions(),
            Self::Condition(_) => 1,
        }
    }
}

/// One test of a member in the read model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Trait(TraitTest),
    /// Birthday (month and day) within the next `within_days` days, today included, in the
    /// member's time zone.
    Birthday {
        within_days: u16,
    },
    ImportantDate {
        kind: String,
        within_days: u16,
    },
    Tier(Vec<String>),
    Points(Comparison),
    Purchased(Purchase),
    Spend(Spend),
    RfmSegment(Vec<String>),
    LastPurchase(LastPurchase),
    /// Has (true) or has not (false) an open complaint ticket.
    OpenComplaint(bool),
    /// Consent on a crm.customers.v1.Channel number is granted (or not).
    Consent {
        channel: i32,
        granted: bool,
    },
    OrderCount(Comparison),
}

/// A test of one trait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraitTest {
    LanguageCode(ValueTest<String>),
    TimeZone(ValueTest<String>),
    /// crm.customers.v1.LifecycleStage numbers.
    LifecycleStage(ValueTest<i32>),
    Tags(TagTest),
    /// A custom attribute, compared as its text through the blind index.
    Attribute {
        key: String,
        test: ValueTest<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueTest<T> {
    Equals(T),
    In(Vec<T>),
    /// Set at all (not empty / unspecified).
    Exists,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagTest {
    /// Has every one of these tags.
    Contains(Vec<String>),
    /// Has at least one of these tags.
    In(Vec<String>),
    /// Has any tag.
    Exists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cmp {
    Less,
    LessOrEqual,
    Equal,
    GreaterOrEqual,
    Greater,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub op: Cmp,
    pub value: i64,
}

impl Comparison {
    /// Whether `actual` passes, e.g. to know if members with no rows (spend 0) match.
    pub fn holds(&self, actual: i64) -> bool {
        match self.op {
            Cmp::Less => actual < self.value,
            Cmp::LessOrEqual => actual <= self.value,
            Cmp::Equal => actual == self.value,
            Cmp::GreaterOrEqual => actual >= self.value,
            Cmp::Greater => actual > self.value,
        }
    }
}

/// Purchased (an item, or anything) at least `min_count` times (purchases, not units) in the
/// last `within_days` days (0: ever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    pub item_id: Option<String>,
    pub min_count: u32,
    pub within_days: u16,
}

/// Net spend (purchases minus refunds) in `currency` in the last `within_days` (0: ever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spend {
    pub currency: String,
    pub within_days: u16,
    pub amount: Comparison,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastPurchase {
    /// More than this many days ago (never purchased does not match).
    BeforeDaysAgo(u16),
    WithinDays(u16),
    /// true: never purchased; false: purchased at least once.
    Never(bool),
}

/// The start of "the last `days` days" before `now` (None: 0 days, i.e. ever).
pub fn since(now: DateTime<Utc>, days: u16) -> Option<DateTime<Utc>> {
    (days > 0).then(|| now - Duration::days(days.into()))
}

/// A saved segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub id: SegmentId,
    pub display_name: String,
    pub description: String,
    pub rule: Rule,
    pub member_count: i64,
    pub revision: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// What a caller sets on a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentFields {
    pub display_name: String,
    pub description: String,
    pub rule: Rule,
}

/// Fields an update mask may name.
pub const UPDATABLE_FIELDS: &[&str] = &["display_name", "description", "rule"];

impl Segment {
    pub fn new(fields: SegmentFields, now: DateTime<Utc>) -> Self {
        Self {
            id: SegmentId::generate(),
            display_name: fields.display_name,
            description: fields.description,
            rule: fields.rule,
            member_count: 0,
            revision: 1,
            create_time: now,
            update_time: now,
        }
    }

    /// The segment after an update of the fields `paths` names (from a checked mask).
    pub fn updated<'a>(
        &self,
        patch: &SegmentFields,
        paths: impl IntoIterator<Item = &'a str>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut next = self.clone();
        for p in paths {
            match p {
                "display_name" => next.display_name.clone_from(&patch.display_name),
                "description" => next.description.clone_from(&patch.description),
                "rule" => next.rule = patch.rule.clone(),
                _ => {}
            }
        }
        next.revision += 1;
        next.update_time = now;
        next
    }
}

/// A (month, day) as a day of a leap year, 0..366 (Feb 29 is 59): birthdays and important
/// dates compare in this order.
pub fn leap_ordinal(month: u32, day: u32) -> Option<u16> {
    NaiveDate::from_ymd_opt(2000, month, day).map(|d| (d.ordinal0()) as u16)
}

/// The (month, day) of a leap-year day from [`leap_ordinal`].
pub fn month_day(ordinal: u16) -> (u32, u32) {
    let d = NaiveDate::from_yo_opt(2000, u32::from(ordinal) + 1).unwrap_or_default();
    (d.month(), d.day())
}

/// An inclusive range of (month, day)s, in leap-year order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: (u32, u32),
    pub to: (u32, u32),
}

/// The (month, day) ranges an anniversary falls in when it is within `within_days` of
/// `today` (today included). Feb 29 counts on Feb 28 in years without one. Empty ranges
/// never; the whole year is one range Jan 1 ..= Dec 31.
pub fn anniversary_windows(today: NaiveDate, within_days: u16) -> Vec<DayRange> {
    let mut hit = [false; 366];
    for d in 0..=i64::from(within_days) {
        let Some(date) = today.checked_add_signed(Duration::days(d)) else {
            break;
        };
        if let Some(o) = leap_ordinal(date.month(), date.day()) {
            hit[usize::from(o)] = true;
        }
        if date.month() == 2 && date.day() == 28 && !date.leap_year() {
            hit[59] = true;
        }
    }
    let mut out = Vec::new();
    let mut start = None;
    for (i, h) in hit.iter().enumerate() {
        match (h, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(range(s, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(range(s, 365));
    }
    out
}

fn range(from: usize, to: usize) -> DayRange {
    DayRange {
        from: month_day(from as u16),
        to: month_day(to as u16),
    }
}

/// The local dates in use at `now` (at most three) with the time zones on each, by name.
/// UTC's date comes first: members with an empty or unknown zone count as UTC.
pub fn zones_by_local_date(now: DateTime<Utc>) -> Vec<(NaiveDate, Vec<&'static str>)> {
    let utc = now.date_naive();
    let mut out: Vec<(NaiveDate, Vec<&'static str>)> = vec![(utc, Vec::new())];
    for tz in chrono_tz::TZ_VARIANTS {
        let date = now.with_timezone(&tz).date_naive();
        match out.iter_mut().find(|(d, _)| *d == date) {
            Some((_, zones)) => zones.push(tz.name()),
            None => out.push((date, vec![tz.name()])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn md(r: &DayRange) -> String {
        format!(
            "{:02}-{:02}..{:02}-{:02}",
            r.from.0, r.from.1, r.to.0, r.to.1
        )
    }

    #[test]
    fn windows_cover_today_and_the_next_days_and_wrap_at_new_year() {
        let w = |today: &str, days| {
            anniversary_windows(date(today), days)
                .iter()
                .map(md)
                .collect::<Vec<_>>()
        };
        assert_eq!(w("2026-05-10", 0), ["05-10..05-10"]);
        assert_eq!(w("2026-05-10", 7), ["05-10..05-17"]);
        assert_eq!(w("2026-12-29", 5), ["01-01..01-03", "12-29..12-31"]);
        // 2026 has no Feb 29: those birthdays count on Feb 28.
        assert_eq!(w("2026-02-27", 1), ["02-27..02-29"]);
        assert_eq!(w("2026-02-27", 0), ["02-27..02-27"]);
        // 2028 has one: Feb 28 alone does not take it.
        assert_eq!(w("2028-02-27", 1), ["02-27..02-28"]);
        assert_eq!(w("2028-02-27", 2), ["02-27..02-29"]);
        assert_eq!(w("2026-02-28", 1), ["02-28..03-01"]);
        assert_eq!(w("2026-03-01", 366), ["01-01..12-31"]);
    }

    #[test]
    fn ordinals_round_trip_through_the_leap_year() {
        for o in 0..366 {
            let (m, d) = month_day(o);
            assert_eq!(leap_ordinal(m, d), Some(o));
        }
        assert_eq!(leap_ordinal(2, 29), Some(59));
        assert_eq!(leap_ordinal(2, 30), None);
    }

    #[test]
    fn every_zone_is_on_one_of_at_most_three_dates_utc_first() {
        let now: DateTime<Utc> = "2026-12-01T23:30:00Z".parse().expect("now");
        let parts = zones_by_local_date(now);
        assert!(parts.len() <= 3, "{}", parts.len());
        assert_eq!(parts[0].0, date("2026-12-01"));
        let on = |zone: &str| parts.iter().find(|(_, z)| z.contains(&zone)).map(|p| p.0);
        assert_eq!(on("Asia/Shanghai"), Some(date("2026-12-02")));
        assert_eq!(on("America/New_York"), Some(date("2026-12-01")));
        assert_eq!(on("UTC"), Some(date("2026-12-01")));
        let zones: usize = parts.iter().map(|(_, z)| z.len()).sum();
        assert_eq!(zones, chrono_tz::TZ_VARIANTS.len());
    }

    #[test]
    fn depth_and_conditions_count_the_tree() {
        let c = Rule::Condition(Condition::OpenComplaint(true));
        let tree = Rule::All(vec![
            c.clone(),
            Rule::Not(Box::new(Rule::Any(vec![c.clone(), c.clone()]))),
        ]);
        assert_eq!((c.depth(), c.conditions()), (1, 1));
        assert_eq!((tree.depth(), tree.conditions()), (4, 3));
    }

    #[test]
    fn a_rule_survives_its_json() {
        let rule = Rule::Any(vec![
            Rule::Condition(Condition::Trait(TraitTest::Attribute {
                key: "shoe_size".into(),
                test: ValueTest::In(vec!["42".into()]),
            })),
            Rule::Not(Box::new(Rule::Condition(Condition::Spend(Spend {
                currency: "CNY".into(),
                within_days: 30,
                amount: Comparison {
                    op: Cmp::GreaterOrEqual,
                    value: 10_000,
                },
            })))),
            Rule::Condition(Condition::LastPurchase(LastPurchase::Never(false))),
        ]);
        let json = serde_json::to_string(&rule).expect("json");
        assert_eq!(serde_json::from_str::<Rule>(&json).expect("back"), rule);
        assert!(json.contains("\"any\""), "{json}");
    }

    #[test]
    fn comparisons_hold_as_named() {
        let c = |op, value| Comparison { op, value };
        assert!(c(Cmp::Less, 1).holds(0));
        assert!(!c(Cmp::Greater, 0).holds(0));
        assert!(c(Cmp::LessOrEqual, 0).holds(0));
        assert!(c(Cmp::Equal, 0).holds(0));
        assert!(!c(Cmp::GreaterOrEqual, 1).holds(0));
    }
}
