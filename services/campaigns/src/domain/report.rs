//! The report's maths, pure (README "Campaign reports"): when a delivery's attribution window
//! opens, which purchases it holds, the arms' intent-to-treat rates, the lift of a variant
//! over the holdout with Newcombe's hybrid score interval (Wilson intervals of each rate),
//! and the report built from the store's aggregates.
use super::CampaignId;
use super::campaign::{Campaign, DeliveryState, GoalKind, Reason};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// A 95% interval's z (the 0.975 quantile of the standard normal).
pub const Z95: f64 = 1.959_963_984_540_054;
/// The confidence level of [`Z95`], as the report states it.
pub const CONFIDENCE_LEVEL: f64 = 0.95;
/// The longest attribution window (Goal.window_days is 1 to 90): how far back from a
/// purchase a delivery can have started and still hold it.
pub const MAX_WINDOW_DAYS: i64 = 90;

/// `campaigns/{campaign}/report`.
pub fn report_name(campaign: CampaignId) -> String {
    format!("{}/report", campaign.name())
}

/// The campaign of `campaigns/{campaign}/report`.
pub fn parse_report_name(name: &str) -> Result<CampaignId, String> {
    let bad = || "must be campaigns/{campaign}/report".to_owned();
    let campaign = name.strip_suffix("/report").ok_or_else(bad)?;
    CampaignId::parse_name(campaign).map_err(|_| bad())
}

/// Whether a delivery in `state` is one of its arm's recipients: handed to the sender, or
/// held out, skipped or failed (intent-to-treat: it was due). Pending, queued and awaiting
/// ones are not decided yet.
pub fn is_started(state: DeliveryState) -> bool {
    use DeliveryState as D;
    state.was_sent() || matches!(state, D::HeldOut | D::Skipped | D::Failed)
}

/// The `started` states ([`is_started`]) whose window opens at the send; the others' opens
/// at their due time.
pub fn starts_at_send(state: DeliveryState) -> bool {
    state.was_sent()
}

/// When a delivery's attribution window opens: the send for a message handed to the
/// sender, the due time for one held out, skipped or failed; None while not started.
pub fn attribution_start(
    state: DeliveryState,
    send_time: Option<DateTime<Utc>>,
    due_time: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match state {
        _ if starts_at_send(state) => send_time,
        _ if is_started(state) => Some(due_time),
        _ => None,
    }
}

/// Whether a purchase at `occur` falls in the window of `window_days` opened at `start`:
/// `start <= occur < start + window_days`.
pub fn in_window(start: DateTime<Utc>, window_days: u16, occur: DateTime<Utc>) -> bool {
    start <= occur && occur < start + Duration::days(i64::from(window_days))
}

/// Days since 1970-01-01 (UTC) of `t`, the timeline's key.
pub fn day_of(t: DateTime<Utc>) -> i32 {
    i32::try_from(t.timestamp().div_euclid(86_400)).unwrap_or(i32::MAX)
}

/// The UTC date of a [`day_of`] number.
pub fn date_of(day: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(Duration::days(i64::from(day)))
}

/// `x` of `n`, 0 when `n` is 0.
pub fn rate(x: u64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { x as f64 / n as f64 }
}

/// The Wilson score interval of `x` successes in `n` trials at `z`; (0, 1) when `n` is 0
/// (nothing is known).
pub fn wilson(x: u64, n: u64, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (p, n) = (rate(x, n), n as f64);
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// Newcombe's hybrid score interval (1998, method 10) of p1 - p2, p1 = x1/n1, p2 = x2/n2:
/// with (l1, u1), (l2, u2) their Wilson intervals,
/// lower = d - sqrt((p1 - l1)^2 + (u2 - p2)^2), upper = d + sqrt((u1 - p1)^2 + (p2 - l2)^2).
pub fn newcombe(x1: u64, n1: u64, x2: u64, n2: u64, z: f64) -> (f64, f64) {
    let (p1, p2) = (rate(x1, n1), rate(x2, n2));
    let ((l1, u1), (l2, u2)) = (wilson(x1, n1, z), wilson(x2, n2, z));
    let d = p1 - p2;
    let lower = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let upper = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    (lower.max(-1.0), upper.min(1.0))
}

/// A variant's lift over the holdout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lift {
    /// rate(variant) - rate(holdout).
    pub absolute: f64,
    pub lower: f64,
    pub upper: f64,
    /// absolute / rate(holdout); None when the holdout's rate is 0.
    pub relative: Option<f64>,
}

impl Lift {
    /// Whether the interval excludes 0 (the difference is significant at its level).
    pub fn significant(&self) -> bool {
        self.lower > 0.0 || self.upper < 0.0
    }
}

/// The lift of `x1` of `n1` (variant) over `x2` of `n2` (holdout) at `z`.
pub fn lift(x1: u64, n1: u64, x2: u64, n2: u64, z: f64) -> Lift {
    let (p1, p2) = (rate(x1, n1), rate(x2, n2));
    let (lower, upper) = newcombe(x1, n1, x2, n2, z);
    Lift {
        absolute: p1 - p2,
        lower,
        upper,
        relative: (p2 > 0.0).then(|| (p1 - p2) / p2),
    }
}

/// Deliveries of one variant ("" for the holdout and the experiment's rest) in one state
/// and reason, with how many were opened and clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTally {
    pub variant: String,
    pub state: DeliveryState,
    pub reason: Reason,
    pub count: u64,
    pub opened: u64,
    pub clicked: u64,
}

/// Attributed conversions of one variant in one currency ("" when the purchase had none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionTotal {
    pub variant: String,
    pub currency: String,
    pub conversions: u64,
    pub revenue_minor: i64,
}

/// [`ConversionTotal`] of one UTC day ([`day_of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotal {
    pub day: i32,
    pub total: ConversionTotal,
}

/// What the store aggregated for one campaign's report.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub tallies: Vec<DeliveryTally>,
    pub totals: Vec<ConversionTotal>,
    /// Per variant: deliveries with at least one conversion.
    pub converted: Vec<(String, u64)>,
    /// The timeline's days, already cut to the last `timeline_days`.
    pub days: Vec<DayTotal>,
}

/// One arm: a variant's recipients, or the holdout's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arm {
    /// "" for the holdout.
    pub variant: String,
    /// Started deliveries (sent, skipped, failed or held out): the rates' denominator.
    pub recipients: u64,
    /// Pending, queued (or awaiting the winner, once it is an arm's).
    pub pending: u64,
    pub sent: u64,
    pub skipped: Vec<(Reason, u64)>,
    pub delivered: u64,
    pub opened: u64,
    pub clicked: u64,
    pub converted: u64,
    pub conversions: u64,
    /// converted / recipients.
    pub conversion_rate: f64,
    /// Per currency, in currency order.
    pub revenue: Vec<(String, i64)>,
}

impl Arm {
    fn named(variant: &str) -> Self {
        Self {
            variant: variant.to_owned(),
            ..Self::default()
        }
    }

    fn add(&mut self, t: &DeliveryTally) {
        use DeliveryState as D;
        let n = t.count;
        let grow = |v: &mut u64| *v = v.saturating_add(n);
        // Not started: pending, queued or awaiting the winner.
        if is_started(t.state) {
            grow(&mut self.recipients);
        } else {
            grow(&mut self.pending);
        }
        if t.state.was_sent() {
            grow(&mut self.sent);
        }
        if matches!(
            t.state,
            D::Delivered | D::Opened | D::Clicked | D::Unsubscribed
        ) {
            grow(&mut self.delivered);
        }
        if t.state == D::Skipped {
            match self.skipped.iter_mut().find(|(r, _)| *r == t.reason) {
                Some((_, c)) => *c = c.saturating_add(n),
                None => self.skipped.push((t.reason, n)),
            }
        }
        self.opened = self.opened.saturating_add(t.opened);
        self.clicked = self.clicked.saturating_add(t.clicked);
    }
}

/// A variant's lift over the holdout.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantLift {
    pub variant: String,
    pub lift: Lift,
}

/// One day's conversions of one arm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daily {
    pub date: NaiveDate,
    /// "" for the holdout.
    pub variant: String,
    pub conversions: u64,
    pub revenue: Vec<(String, i64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub campaign: CampaignId,
    /// In the campaign's order (a variant only the deliveries know comes after).
    pub variants: Vec<Arm>,
    pub holdout: Option<Arm>,
    /// Only with a holdout and a purchase or booking goal, for arms both with recipients.
    pub lifts: Vec<VariantLift>,
    pub winner: Option<String>,
    /// Oldest first; per day, the variants in order, then the holdout.
    pub timeline: Vec<Daily>,
    pub confidence_level: f64,
    pub compute_time: DateTime<Utc>,
}

/// Where a delivery row of `variant` in `state` is reported: Some("") for the holdout,
/// Some(variant) for a variant's arm, None for no arm (the experiment's rest before the
/// winner, or skipped by a cancel while it waited: it was never assigned a variant).
pub fn arm_of(variant: &str, state: DeliveryState) -> Option<&str> {
    match (variant, state) {
        (_, DeliveryState::HeldOut) => Some(""),
        ("", _) => None,
        (v, _) => Some(v),
    }
}

/// The report of `c` from the store's `facts` at `now`.
pub fn build(c: &Campaign, facts: Facts, now: DateTime<Utc>) -> Report {
    let mut variants: Vec<Arm> = c
        .fields
        .spec
        .variants
        .iter()
        .map(|v| Arm::named(&v.id))
        .collect();
    let mut holdout = (c.fields.spec.holdout_percent > 0).then(|| Arm::named(""));
    fn arm<'a>(variants: &'a mut Vec<Arm>, holdout: &'a mut Option<Arm>, id: &str) -> &'a mut Arm {
        if id.is_empty() {
            return holdout.get_or_insert_with(|| Arm::named(""));
        }
        match variants.iter().position(|a| a.variant == id) {
            Some(i) => &mut variants[i],
            None => {
                variants.push(Arm::named(id));
                variants.last_mut().expect("just pushed")
            }
        }
    }
    for t in &facts.tallies {
        if let Some(id) = arm_of(&t.variant, t.state) {
            arm(&mut variants, &mut holdout, id).add(t);
        }
    }
    let click_goal = c.fields.spec.goal.kind == GoalKind::Click;
    if !click_goal {
        // Conversions of a delivery outside every arm are not written (store::conversions).
        for (id, n) in &facts.converted {
            arm(&mut variants, &mut holdout, id).converted = *n;
        }
        for t in &facts.totals {
            let a = arm(&mut variants, &mut holdout, &t.variant);
            a.conversions = a.conversions.saturating_add(t.conversions);
            if !t.currency.is_empty() {
                a.revenue.push((t.currency.clone(), t.revenue_minor));
            }
        }
    }
    for a in variants.iter_mut().chain(holdout.iter_mut()) {
        if click_goal {
            (a.converted, a.conversions) = (a.clicked, a.clicked);
        }
        a.conversion_rate = rate(a.converted, a.recipients);
        a.revenue.sort();
        a.skipped.sort_by_key(|(r, _)| r.number());
    }
    let lifts = match &holdout {
        Some(h) if !click_goal && h.recipients > 0 => variants
            .iter()
            .filter(|a| a.recipients > 0)
            .map(|a| VariantLift {
                variant: a.variant.clone(),
                lift: lift(a.converted, a.recipients, h.converted, h.recipients, Z95),
            })
            .collect(),
        _ => Vec::new(),
    };
    let timeline = if click_goal {
        Vec::new()
    } else {
        timeline(&variants, facts.days)
    };
    Report {
        campaign: c.id,
        variants,
        holdout,
        lifts,
        winner: c.winner.as_ref().map(|(v, _)| v.clone()),
        timeline,
        confidence_level: CONFIDENCE_LEVEL,
        compute_time: now,
    }
}

/// Days grouped by (day, arm): oldest first, the arms in report order, the holdout last.
fn timeline(variants: &[Arm], days: Vec<DayTotal>) -> Vec<Daily> {
    let order = |v: &str| match v {
        "" => usize::MAX,
        v => variants
            .iter()
            .position(|a| a.variant == v)
            .unwrap_or(usize::MAX - 1),
    };
    let mut days = days;
    days.sort_by(|a, b| {
        (a.day, order(&a.total.variant), &a.total.currency).cmp(&(
            b.day,
            order(&b.total.variant),
            &b.total.currency,
        ))
    });
    let mut out: Vec<(i32, Daily)> = Vec::new();
    for d in days {
        let Some(date) = date_of(d.day) else { continue };
        let t = d.total;
        let same =
            matches!(out.last(), Some((day, last)) if *day == d.day && last.variant == t.variant);
        if !same {
            out.push((
                d.day,
                Daily {
                    date,
                    variant: t.variant.clone(),
                    conversions: 0,
                    revenue: Vec::new(),
                },
            ));
        }
        let (_, daily) = out.last_mut().expect("pushed above");
        daily.conversions = daily.conversions.saturating_add(t.conversions);
        if !t.currency.is_empty() {
            daily.revenue.push((t.currency, t.revenue_minor));
        }
    }
    out.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests;
