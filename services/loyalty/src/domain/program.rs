//! The programme: earning rules, tiers and expiry policy, and the arithmetic on them.
use super::points::{self, Limits, Overflow};
use chrono::{DateTime, Months, TimeDelta, Utc};
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
    /// How many days before now a purchase's purchase time may lie.
    pub max_backdate_days: i64,
    pub transfers_allowed: bool,
    pub hold_timeout_secs: i64,
    pub action_awards: BTreeMap<String, i64>,
    #[serde(default)]
    pub item_bonuses: Vec<ItemBonus>,
    /// Lowest threshold first; the first is 0.
    pub tiers: Vec<TierDef>,
    /// Bounds of every call and wallet.
    pub limits: Limits,
}

/// Largest earning multiplier (x100) of a tier or a bonus item.
pub const MAX_MULTIPLIER_PERMILLE: i32 = 100_000;

impl Program {
    /// Adds one line per problem. Every number is bounded, so the earning arithmetic (done
    /// in `i128`) cannot overflow and every time computed from the clock stays in range.
    pub fn validate(&self, p: &mut Vec<String>) {
        let at = "loyalty.program";
        let mut bounded = |name: &str, v: i64, lo: i64, hi: i64| {
            if !(lo..=hi).contains(&v) {
                p.push(format!("{at}.{name}: must be between {lo} and {hi}"));
            }
        };
        bounded("points_per_unit", self.points_per_unit, 1, 1_000_000);
        bounded(
            "minor_units_per_unit",
            self.minor_units_per_unit,
            1,
            1_000_000_000,
        );
        bounded("pending_days", self.pending_days.into(), 0, 3_650);
        bounded(
            "expire_after_months",
            self.expire_after_months.into(),
            1,
            1_200,
        );
        bounded(
            "qualifying_window_days",
            self.qualifying_window_days,
            1,
            36_500,
        );
        bounded("max_backdate_days", self.max_backdate_days, 0, 3_650);
        bounded("hold_timeout_secs", self.hold_timeout_secs, 1, 30 * 86_400);
        let max_award = self.limits.max_points_per_call;
        if self
            .action_awards
            .values()
            .any(|v| !(1..=max_award).contains(v))
        {
            p.push(format!(
                "{at}.action_awards: every award must be > 0 and at most limits.max_points_per_call"
            ));
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
        let multiplier_ok = |m: i32| (1000..=MAX_MULTIPLIER_PERMILLE).contains(&m);
        if self
            .item_bonuses
            .iter()
            .any(|b| b.item_id_prefix.is_empty() || !multiplier_ok(b.multiplier_permille))
        {
            p.push(format!(
                "{at}.item_bonuses: need a non-empty prefix and a multiplier between 1000 and {MAX_MULTIPLIER_PERMILLE}"
            ));
        }
        if self
            .tiers
            .iter()
            .any(|t| !multiplier_ok(t.multiplier_permille))
        {
            p.push(format!(
                "{at}.tiers: multipliers must be between 1000 (x1.0) and {MAX_MULTIPLIER_PERMILLE}"
            ));
        }
        self.limits.validate(&format!("{at}.limits"), p);
    }

    /// Whether a purchase in `currency` earns points.
    pub fn accepts_currency(&self, currency: &str) -> bool {
        self.currency_codes.is_empty() || self.currency_codes.iter().any(|c| c == currency)
    }

    /// Base points of a purchase of `amount_minor` (whole currency units only, rounded down).
    pub fn base_points(&self, amount_minor: i64) -> i64 {
        points::clamp(self.base_points_wide(i128::from(amount_minor.max(0))))
    }

    fn base_points_wide(&self, amount_minor: i128) -> i128 {
        // Both factors fit in i64, so the product fits in i128.
        amount_minor / i128::from(self.minor_units_per_unit) * i128::from(self.points_per_unit)
    }

    /// Points of a purchase: base points on the amount, plus each bonus item's extra share
    /// (its line total, capped at what is left of the amount, times the bonus above x1), then
    /// the tier multiplier. Rounded down at each step; never negative. Computed exactly in
    /// `i128`; a result beyond `i64` is [`Overflow`].
    pub fn purchase_points(
        &self,
        amount_minor: i64,
        lines: &[Line],
        tier_permille: i32,
    ) -> Result<i64, Overflow> {
        let amount = i128::from(amount_minor.max(0));
        let base = self.base_points_wide(amount);
        let mut left = amount;
        let mut extra = 0i128;
        for l in lines {
            let Some(bonus) = self
                .item_bonuses
                .iter()
                .find(|b| l.item_id.starts_with(&b.item_id_prefix))
            else {
                continue;
            };
            let total =
                (i128::from(l.unit_price_minor.max(0)) * i128::from(l.quantity.max(0))).min(left);
            left -= total;
            let share = self
                .base_points_wide(total)
                .checked_mul(i128::from(bonus.multiplier_permille.saturating_sub(1000)))
                .ok_or(Overflow)?
                / 1000;
            extra = extra.checked_add(share).ok_or(Overflow)?;
        }
        let points = base
            .checked_add(extra)
            .and_then(|p| p.checked_mul(i128::from(tier_permille.max(0))))
            .ok_or(Overflow)?
            / 1000;
        i64::try_from(points).map_err(|_| Overflow)
    }

    /// Points after the tier multiplier, rounded down.
    pub fn with_multiplier(points: i64, multiplier_permille: i32) -> i64 {
        points::clamp(i128::from(points) * i128::from(multiplier_permille) / 1000)
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
        TimeDelta::try_days(i64::from(self.pending_days))
            .and_then(|d| earn_time.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        TimeDelta::try_days(self.qualifying_window_days)
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Where the qualifying history a wallet keeps starts: a day before the window, so a
    /// snapshot still covers the window a little later.
    pub fn qualifying_history_from(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.window_start(now)
            .checked_sub_signed(TimeDelta::days(1))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Where the qualifying history a write keeps starts: far enough back to rate a purchase
    /// back-dated by `max_backdate_days`.
    pub fn write_history_from(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let oldest = TimeDelta::try_days(self.max_backdate_days)
            .and_then(|d| now.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.qualifying_history_from(oldest)
    }

    /// The time a purchase is earned as of: `purchase_time` (none: `now`), refused when it
    /// lies more than `max_backdate_days` before `now` or beyond the clock skew after it (a
    /// purchase a little ahead of this clock counts as now).
    pub fn purchase_time(
        &self,
        purchase_time: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, String> {
        let Some(t) = purchase_time else {
            return Ok(now);
        };
        if t > now + crm_platform::validate::CLOCK_SKEW {
            return Err("must not be in the future".into());
        }
        let days = self.max_backdate_days;
        let limit_after = TimeDelta::try_days(days).and_then(|d| t.checked_add_signed(d));
        if limit_after.is_some_and(|l| l < now) {
            return Err(format!(
                "must be at most {days} days ago (loyalty.program.max_backdate_days)"
            ));
        }
        Ok(t.min(now))
    }

    /// The tier for a purchase at `t`: the qualifying points of the window before it (not
    /// those at `t` itself, so purchases at one instant do not rate each other).
    pub fn tier_before(&self, qualifying: &[(DateTime<Utc>, i64)], t: DateTime<Utc>) -> &TierDef {
        let start = self.window_start(t);
        let points = points::saturating_sum(
            qualifying
                .iter()
                .filter(|(q, _)| *q >= start && *q < t)
                .map(|(_, d)| *d),
        );
        self.tier_for(points.max(0))
    }

    /// The tier of a new wallet (the lowest).
    pub fn base_tier(&self) -> &str {
        self.tiers.first().map(|t| t.code.as_str()).unwrap_or("")
    }
}

/// Sum of qualifying deltas whose qualify time lies in `[window_start, now]`.
pub fn qualifying_points(
    entries: &[(DateTime<Utc>, i64)],
    window_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> i64 {
    points::saturating_sum(
        entries
            .iter()
            .filter(|(t, _)| *t >= window_start && *t <= now)
            .map(|(_, d)| *d),
    )
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
        assert_eq!(p.purchase_points(10_000, &lines, 1000), Ok(160));
        assert_eq!(p.purchase_points(10_000, &lines, 1500), Ok(240));
        // A line total larger than the amount paid (discounts) is capped.
        assert_eq!(
            p.purchase_points(1_000, &[line("spa-x", 1, 9_000)], 1000),
            Ok(20)
        );
        assert_eq!(p.purchase_points(10_000, &[], 1000), Ok(100));
    }

    #[test]
    fn purchase_points_never_overflow() {
        let mut p = default_program();
        p.item_bonuses = vec![ItemBonus {
            item_id_prefix: "spa-".into(),
            multiplier_permille: MAX_MULTIPLIER_PERMILLE,
        }];
        p.points_per_unit = 1_000_000;
        p.minor_units_per_unit = 1;
        let huge = Line {
            item_id: "spa-x".into(),
            quantity: i64::MAX,
            unit_price_minor: i64::MAX,
        };
        // Every step saturated (and wrapped in release builds) before.
        assert_eq!(
            p.purchase_points(i64::MAX, std::slice::from_ref(&huge), 1500),
            Err(Overflow)
        );
        assert_eq!(p.purchase_points(i64::MAX, &[], 1000), Err(Overflow));
        p.points_per_unit = 1;
        assert_eq!(p.purchase_points(i64::MAX, &[], 1000), Ok(i64::MAX));
        assert_eq!(p.purchase_points(i64::MAX, &[], 1001), Err(Overflow));
        assert_eq!(p.purchase_points(-5, &[huge], 1000), Ok(0));
    }

    #[test]
    fn qualifying_sums_do_not_overflow() {
        let now = Utc::now();
        let entries = vec![(now, i64::MAX), (now, i64::MAX), (now, i64::MIN)];
        assert_eq!(
            qualifying_points(&entries, now - chrono::Duration::days(1), now),
            i64::MAX - 1
        );
    }

    #[test]
    fn program_numbers_are_bounded() {
        let mut p = default_program();
        p.qualifying_window_days = i64::MAX;
        p.hold_timeout_secs = i64::MAX;
        p.points_per_unit = i64::MAX;
        p.tiers[2].multiplier_permille = i32::MAX;
        p.action_awards.insert("huge".into(), i64::MAX);
        p.max_backdate_days = i64::MAX;
        let mut problems = Vec::new();
        p.validate(&mut problems);
        assert_eq!(problems.len(), 6, "{problems:?}");
        // Out-of-range settings never panic the clock arithmetic.
        let now = Utc::now();
        assert_eq!(p.window_start(now), DateTime::<Utc>::MIN_UTC);
        assert_eq!(p.write_history_from(now), DateTime::<Utc>::MIN_UTC);
        assert!(p.purchase_time(Some(DateTime::<Utc>::MIN_UTC), now).is_ok());
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
