//! The programme: earning rules, tiers and expiry policy, and the arithmetic on them.
use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierDef {
    pub code: String,
    pub display_name: String,
    /// Qualifying points over the window needed for this tier.
    pub threshold: i64,
    /// Earning multiplier in thousandths (1250 = x1.25).
    pub multiplier_permille: i32,
}

/// Items whose id starts with `item_id_prefix` earn x`multiplier_permille`/1000 on their
/// line total (the rest of the purchase earns x1), before the tier multiplier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemBonus {
    pub item_id_prefix: String,
    pub multiplier_permille: i32,
}

/// One purchased item as the earning rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub item_id: String,
    pub quantity: i64,
    /// Unit price in minor units of the purchase currency (0 when unknown).
    pub unit_price_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    pub display_name: String,
    pub points_currency: String,
    pub points_per_unit: i64,
    pub minor_units_per_unit: i64,
    pub currency_codes: Vec<String>,
    pub pending_days: i32,
    pub expire_after_months: u32,
    pub qualifying_window_days: i64,
    pub transfers_allowed: bool,
    pub hold_timeout_secs: i64,
    pub action_awards: BTreeMap<String, i64>,
    #[serde(default)]
    pub item_bonuses: Vec<ItemBonus>,
    /// Lowest threshold first; the first is 0.
    pub tiers: Vec<TierDef>,
}

impl Program {
    /// Adds one line per problem.
    pub fn validate(&self, p: &mut Vec<String>) {
        let at = "loyalty.program";
        if self.points_per_unit <= 0 || self.minor_units_per_unit <= 0 {
            p.push(format!(
                "{at}: points_per_unit and minor_units_per_unit must be > 0"
            ));
        }
        if self.pending_days < 0 {
            p.push(format!("{at}.pending_days: must be >= 0"));
        }
        if self.expire_after_months == 0 {
            p.push(format!("{at}.expire_after_months: must be > 0"));
        }
        if self.qualifying_window_days <= 0 {
            p.push(format!("{at}.qualifying_window_days: must be > 0"));
        }
        if self.hold_timeout_secs <= 0 {
            p.push(format!("{at}.hold_timeout_secs: must be > 0"));
        }
        if self.action_awards.values().any(|v| *v <= 0) {
            p.push(format!("{at}.action_awards: every award must be > 0"));
        }
        if self.tiers.first().is_none_or(|t| t.threshold != 0) {
            p.push(format!("{at}.tiers: the first tier must have threshold 0"));
        }
        if self
            .tiers
            .windows(2)
            .any(|w| w[0].threshold >= w[1].threshold)
        {
            p.push(format!("{at}.tiers: thresholds must increase"));
        }
        if self
            .item_bonuses
            .iter()
            .any(|b| b.item_id_prefix.is_empty() || b.multiplier_permille < 1000)
        {
            p.push(format!(
                "{at}.item_bonuses: need a non-empty prefix and a multiplier >= 1000"
            ));
        }
        if self.tiers.iter().any(|t| t.multiplier_permille < 1000) {
            p.push(format!("{at}.tiers: multipliers must be >= 1000 (x1.0)"));
        }
    }

    /// Whether a purchase in `currency` earns points.
    pub fn accepts_currency(&self, currency: &str) -> bool {
        self.currency_codes.is_empty() || self.currency_codes.iter().any(|c| c == currency)
    }

    /// Base points of a purchase of `amount_minor` (whole currency units only, rounded down).
    pub fn base_points(&self, amount_minor: i64) -> i64 {
        let units = i128::from(amount_minor.max(0)) / i128::from(self.minor_units_per_unit);
        clamp(units * i128::from(self.points_per_unit))
    }

    /// Points of a purchase: base points on the amount, plus each bonus item's extra share
    /// (its line total, capped at the amount, times the bonus above x1), then the tier
    /// multiplier. Rounded down at each step; never negative.
    pub fn purchase_points(&self, amount_minor: i64, lines: &[Line], tier_permille: i32) -> i64 {
        let base = self.base_points(amount_minor);
        let mut left = amount_minor.max(0);
        let mut extra = 0i64;
        for l in lines {
            let Some(bonus) = self
                .item_bonuses
                .iter()
                .find(|b| l.item_id.starts_with(&b.item_id_prefix))
            else {
                continue;
            };
            let total =
                clamp(i128::from(l.unit_price_minor.max(0)) * i128::from(l.quantity.max(0)))
                    .min(left);
            left -= total;
            extra = extra.saturating_add(Self::with_multiplier(
                self.base_points(total),
                bonus.multiplier_permille - 1000,
            ));
        }
        Self::with_multiplier(base.saturating_add(extra), tier_permille)
    }

    /// Points after the tier multiplier, rounded down.
    pub fn with_multiplier(points: i64, multiplier_permille: i32) -> i64 {
        clamp(i128::from(points) * i128::from(multiplier_permille) / 1000)
    }

    /// The tier for `qualifying` points: the highest whose threshold is reached.
    pub fn tier_for(&self, qualifying: i64) -> &TierDef {
        self.tiers
            .iter()
            .rev()
            .find(|t| qualifying >= t.threshold)
            .or(self.tiers.first())
            .unwrap_or_else(|| unreachable!("validated: at least one tier"))
    }

    pub fn next_tier(&self, code: &str) -> Option<&TierDef> {
        let i = self.tiers.iter().position(|t| t.code == code)?;
        self.tiers.get(i + 1)
    }

    /// When points earned at `earn_time` expire.
    pub fn expiry_of(&self, earn_time: DateTime<Utc>) -> DateTime<Utc> {
        earn_time
            .checked_add_months(Months::new(self.expire_after_months))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// When a purchase's points become available.
    pub fn purchase_available_time(&self, earn_time: DateTime<Utc>) -> DateTime<Utc> {
        earn_time + chrono::Duration::days(i64::from(self.pending_days))
    }

    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::days(self.qualifying_window_days)
    }
}

fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Sum of qualifying deltas whose qualify time lies in `[window_start, now]`.
pub fn qualifying_points(
    entries: &[(DateTime<Utc>, i64)],
    window_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> i64 {
    entries
        .iter()
        .filter(|(t, _)| *t >= window_start && *t <= now)
        .map(|(_, d)| d)
        .sum::<i64>()
        .max(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn default_program() -> Program {
        let s = crate::settings::Settings::load(None).expect("defaults");
        s.loyalty.program
    }

    #[test]
    fn defaults_follow_the_issue() {
        let p = default_program();
        let mut problems = Vec::new();
        p.validate(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(p.base_points(12_345), 123, "1 point per whole unit");
        let codes: Vec<_> = p.tiers.iter().map(|t| t.code.as_str()).collect();
        assert_eq!(codes, ["regular", "silver", "gold"]);
        assert_eq!(Program::with_multiplier(123, 1250), 153);
        assert_eq!(Program::with_multiplier(123, 1500), 184);
    }

    #[test]
    fn bonus_items_earn_more_before_the_tier_multiplier() {
        let mut p = default_program();
        p.item_bonuses = vec![ItemBonus {
            item_id_prefix: "spa-".into(),
            multiplier_permille: 2000,
        }];
        let line = |id: &str, qty, price| Line {
            item_id: id.into(),
            quantity: qty,
            unit_price_minor: price,
        };
        let lines = [line("spa-massage", 2, 3_000), line("room", 1, 4_000)];
        assert_eq!(p.purchase_points(10_000, &lines, 1000), 160);
        assert_eq!(p.purchase_points(10_000, &lines, 1500), 240);
        // A line total larger than the amount paid (discounts) is capped.
        assert_eq!(
            p.purchase_points(1_000, &[line("spa-x", 1, 9_000)], 1000),
            20
        );
        assert_eq!(p.purchase_points(10_000, &[], 1000), 100);
    }

    #[test]
    fn tiers_by_threshold() {
        let p = default_program();
        assert_eq!(p.tier_for(0).code, "regular");
        assert_eq!(p.tier_for(999).code, "regular");
        assert_eq!(p.tier_for(1000).code, "silver");
        assert_eq!(p.tier_for(10_000).code, "gold");
        assert_eq!(p.next_tier("silver").map(|t| t.code.as_str()), Some("gold"));
        assert_eq!(p.next_tier("gold"), None);
    }

    #[test]
    fn qualifying_window_is_rolling() {
        let now = Utc::now();
        let p = default_program();
        let entries = vec![
            (now - chrono::Duration::days(400), 5000),
            (now - chrono::Duration::days(10), 800),
            (now - chrono::Duration::days(5), 300),
            (now - chrono::Duration::days(10), -100),
        ];
        assert_eq!(qualifying_points(&entries, p.window_start(now), now), 1000);
    }

    #[test]
    fn expiry_is_months_after_earning() {
        let p = default_program();
        let t = DateTime::parse_from_rfc3339("2026-01-31T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(p.expiry_of(t).to_rfc3339(), "2028-01-31T10:00:00+00:00");
    }

    #[test]
    fn bad_programs_list_every_problem() {
        let mut p = default_program();
        p.points_per_unit = 0;
        p.tiers[1].threshold = 0;
        p.hold_timeout_secs = 0;
        let mut problems = Vec::new();
        p.validate(&mut problems);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }
}
