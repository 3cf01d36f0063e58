//! Proto <-> domain for campaigns and deliveries. Parsing reports every bad field at once
//! under the request's field path (e.g. `campaign.variants[1].body`).
use crate::domain::campaign::{
    Campaign, CampaignFields, CampaignLimits, Channel, Delivery, DeliveryState, Goal, GoalKind,
    Schedule, Spec, Variant,
};
use crate::domain::experiment::{Experiment, Metric};
use crate::domain::journey::{Trigger, TriggerKind};
use crate::domain::{CouponPoolId, SegmentId, template};
use crate::service::campaigns::Stats;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use crm_platform::Violations;
use crm_platform::etag;
use crm_platform::field_mask::UpdateMask;
use crm_platform::validate::{self, to_timestamp};
use crm_proto::campaigns as pb;
use std::collections::HashSet;

/// How far ahead a schedule may be.
const MAX_SCHEDULE_AHEAD_DAYS: i64 = 400;
/// Default goal window when none is given.
const DEFAULT_GOAL_WINDOW_DAYS: i32 = 7;

pub fn campaign(c: &Campaign, stats: &Stats) -> pb::Campaign {
    let f = &c.fields;
    let spec = &f.spec;
    pb::Campaign {
        name: c.id.name(),
        display_name: f.display_name.clone(),
        goal: Some(pb::Goal {
            kind: match spec.goal.kind {
                GoalKind::Purchase => pb::goal::Kind::Purchase,
                GoalKind::Booking => pb::goal::Kind::Booking,
                GoalKind::Click => pb::goal::Kind::Click,
            } as i32,
            window_days: spec.goal.window_days.into(),
        }),
        segment: f.segment.name(),
        exclusion_segments: spec.exclusions.iter().map(SegmentId::name).collect(),
        channel: f.channel.number(),
        variants: spec
            .variants
            .iter()
            .map(|v| pb::Variant {
                id: v.id.clone(),
                weight: i32::try_from(v.weight).unwrap_or(i32::MAX),
                subject: v.subject.clone(),
                body: v.body.clone(),
                tiers: v.tiers.clone(),
                coupon_pool: v.coupon_pool.map(|p| p.name()).unwrap_or_default(),
            })
            .collect(),
        schedule: Some(pb::Schedule {
            when: Some(match &spec.schedule {
                Schedule::Immediately => pb::schedule::When::Immediately(true),
                Schedule::At(t) => pb::schedule::When::StartTime(to_timestamp(*t)),
                Schedule::Local { date, time } => pb::schedule::When::Local(pb::LocalSchedule {
                    date: date.format("%Y-%m-%d").to_string(),
                    time_of_day: time.format("%H:%M").to_string(),
                }),
                Schedule::Trigger(t) => pb::schedule::When::Trigger(trigger_to_proto(t)),
            }),
        }),
        transactional: f.transactional,
        throttle_per_second: i32::try_from(f.throttle_per_second).unwrap_or(i32::MAX),
        coupon_code: spec.coupon_code.clone(),
        state: c.state.number(),
        stats: Some(campaign_stats(stats)),
        create_time: Some(to_timestamp(c.create_time)),
        update_time: Some(to_timestamp(c.update_time)),
        start_time: c.start_time.map(to_timestamp),
        end_time: c.end_time.map(to_timestamp),
        etag: etag::of_revision(c.revision),
        experiment: spec.experiment.as_ref().map(|e| pb::Experiment {
            test_percent: e.test_percent.into(),
            test_duration: Some(prost_types::Duration {
                seconds: e.test_duration_secs.into(),
                nanos: 0,
            }),
            metric: match e.metric {
                Metric::ConversionRate => pb::experiment::Metric::ConversionRate,
                Metric::ClickRate => pb::experiment::Metric::ClickRate,
                Metric::OpenRate => pb::experiment::Metric::OpenRate,
            } as i32,
        }),
        holdout_percent: spec.holdout_percent.into(),
        winner_variant: c
            .winner
            .as_ref()
            .map(|(v, _)| v.clone())
            .unwrap_or_default(),
        winner_time: c.winner.as_ref().map(|(_, t)| to_timestamp(*t)),
    }
}

fn trigger_to_proto(t: &Trigger) -> pb::Trigger {
    use pb::trigger::Kind;
    pb::Trigger {
        kind: match t.kind {
            TriggerKind::Welcome => Kind::Welcome,
            TriggerKind::Date => Kind::Date,
            TriggerKind::WinBack => Kind::WinBack,
            TriggerKind::Purchase => Kind::Purchase,
            TriggerKind::Booking => Kind::Booking,
        } as i32,
        date_kind: t.date_kind.clone(),
        days_before: t.days_before.into(),
        time_of_day: t.time_of_day.format("%H:%M").to_string(),
        inactive_days: t.inactive_days.into(),
        delay: Some(prost_types::Duration {
            seconds: t.delay_secs.into(),
            nanos: 0,
        }),
    }
}

/// The campaign's counts. CampaignStats has no field for the experiment's states:
/// `recipients` counts every delivery, the held-out ones too (they are in the audience; the
/// report has the holdout's own numbers), and `pending` counts those awaiting the winner
/// (they are still to be sent), so a campaign with `pending` 0 is done.
fn campaign_stats(s: &Stats) -> pb::CampaignStats {
    use DeliveryState as D;
    let n = |states: &[D]| {
        states
            .iter()
            .map(|st| s.get(st).copied().unwrap_or(0))
            .sum()
    };
    pb::CampaignStats {
        recipients: s.values().sum(),
        pending: n(&[D::Pending, D::Queued, D::AwaitingWinner]),
        sent: n(&[
            D::Sent,
            D::Delivered,
            D::Opened,
            D::Clicked,
            D::Bounced,
            D::Unsubscribed,
        ]),
        skipped: n(&[D::Skipped]),
        failed: n(&[D::Failed]),
        delivered: n(&[D::Delivered, D::Opened, D::Clicked, D::Unsubscribed]),
        opened: n(&[D::Opened, D::Clicked]),
        clicked: n(&[D::Clicked]),
        bounced: n(&[D::Bounced]),
        unsubscribed: n(&[D::Unsubscribed]),
    }
}

pub fn delivery(d: &Delivery) -> pb::Delivery {
    pb::Delivery {
        name: d.name(),
        customer: d.customer.name(),
        variant: d.variant.clone(),
        state: d.state.number(),
        reason: d.reason.number(),
        detail: d.detail.clone(),
        due_time: Some(to_timestamp(d.due_time)),
        send_time: d.send_time.filter(|_| d.state.was_sent()).map(to_timestamp),
        attempts: i32::try_from(d.attempts).unwrap_or(i32::MAX),
        receipt_time: d.receipt_time.map(to_timestamp),
        update_time: Some(to_timestamp(d.update_time)),
        occasion: d.occasion.clone(),
    }
}

/// A segment reference in field `field`.
pub fn segment_ref(field: &str, name: &str, v: &mut Violations) -> Option<SegmentId> {
    v.check(field, SegmentId::parse_name(name))
}

/// The campaign's settable fields (those `mask` names, when given; the others get defaults
/// that the update ignores). Problems under `at` (e.g. "campaign").
pub fn campaign_fields(
    c: &pb::Campaign,
    limits: &CampaignLimits,
    mask: Option<&UpdateMask>,
    now: DateTime<Utc>,
    at: &str,
    v: &mut Violations,
) -> Option<CampaignFields> {
    let checks = |path: &str| mask.is_none_or(|m| m.contains(path));
    let field = |name: &str| format!("{at}.{name}");
    let mut v2 = Violations::new();
    let display_name = if checks("display_name") {
        validate::text(
            &field("display_name"),
            &c.display_name,
            limits.max_display_name_chars,
            true,
            &mut v2,
        )
    } else {
        String::new()
    };
    let goal = if checks("goal") {
        goal(c.goal.as_ref(), &field("goal"), &mut v2)
    } else {
        Some(Goal {
            kind: GoalKind::Purchase,
            window_days: 7,
        })
    };
    let segment = if checks("segment") {
        segment_ref(&field("segment"), &c.segment, &mut v2)
    } else {
        Some(SegmentId(uuid::Uuid::nil()))
    };
    let mut exclusions = Vec::new();
    if checks("exclusion_segments")
        && validate::max_items(
            &field("exclusion_segments"),
            c.exclusion_segments.len(),
            limits.max_exclusion_segments,
            &mut v2,
        )
    {
        for (i, s) in c.exclusion_segments.iter().enumerate() {
            if let Some(id) = segment_ref(&format!("{at}.exclusion_segments[{i}]"), s, &mut v2) {
                exclusions.push(id);
            }
        }
    }
    let channel = if checks("channel") {
        let ch = Channel::from_number(c.channel);
        if ch.is_none() {
            v2.add(field("channel"), "must be EMAIL, SMS, PUSH or WEBHOOK");
        }
        ch
    } else {
        Some(Channel::Email)
    };
    let variants = if checks("variants") {
        variants(&c.variants, limits, &field("variants"), &mut v2)
    } else {
        Vec::new()
    };
    let schedule = if checks("schedule") {
        schedule(c.schedule.as_ref(), now, &field("schedule"), &mut v2)
    } else {
        Some(Schedule::Immediately)
    };
    let throttle = if c.throttle_per_second == 0 {
        Some(limits.default_throttle_per_second)
    } else {
        validate::in_range(
            &field("throttle_per_second"),
            c.throttle_per_second.into(),
            1..=limits.max_throttle_per_second.into(),
            &mut v2,
        )
        .and_then(|n| u32::try_from(n).ok())
    };
    let coupon_code = if checks("coupon_code") {
        validate::text(
            &field("coupon_code"),
            &c.coupon_code,
            limits.max_coupon_code_chars,
            false,
            &mut v2,
        )
    } else {
        String::new()
    };
    let experiment = if checks("experiment") {
        c.experiment
            .as_ref()
            .and_then(|e| experiment(e, &field("experiment"), &mut v2))
    } else {
        None
    };
    let holdout_percent = if checks("holdout_percent") {
        validate::in_range(
            &field("holdout_percent"),
            c.holdout_percent.into(),
            0..=limits.max_holdout_percent.into(),
            &mut v2,
        )
        .and_then(|n| u8::try_from(n).ok())
        .unwrap_or(0)
    } else {
        0
    };
    let ok = v2.is_empty();
    v.extend_prefixed("", v2);
    let fields = CampaignFields {
        display_name,
        segment: segment?,
        channel: channel?,
        transactional: c.transactional,
        throttle_per_second: throttle?,
        spec: Spec {
            goal: goal?,
            exclusions,
            variants,
            schedule: schedule?,
            coupon_code,
            experiment,
            holdout_percent,
        },
    };
    ok.then_some(fields)
}

fn goal(g: Option<&pb::Goal>, at: &str, v: &mut Violations) -> Option<Goal> {
    let Some(g) = g else {
        v.add(at, "is required");
        return None;
    };
    let kind = match pb::goal::Kind::try_from(g.kind) {
        Ok(pb::goal::Kind::Purchase) => Some(GoalKind::Purchase),
        Ok(pb::goal::Kind::Booking) => Some(GoalKind::Booking),
        Ok(pb::goal::Kind::Click) => Some(GoalKind::Click),
        _ => {
            v.add(format!("{at}.kind"), "must be PURCHASE, BOOKING or CLICK");
            None
        }
    };
    let days = if g.window_days == 0 {
        DEFAULT_GOAL_WINDOW_DAYS
    } else {
        g.window_days
    };
    let window = validate::in_range(&format!("{at}.window_days"), days.into(), 1..=90, v)
        .and_then(|d| u16::try_from(d).ok());
    Some(Goal {
        kind: kind?,
        window_days: window?,
    })
}

fn variants(
    list: &[pb::Variant],
    limits: &CampaignLimits,
    at: &str,
    v: &mut Violations,
) -> Vec<Variant> {
    if list.is_empty() {
        v.add(at, "is required: at least one variant");
        return Vec::new();
    }
    if !validate::max_items(at, list.len(), limits.max_variants, v) {
        return Vec::new();
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, pv) in list.iter().enumerate() {
        let f = |name: &str| format!("{at}[{i}].{name}");
        let id = pv.id.trim();
        let id_ok = (1..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !id_ok {
            v.add(f("id"), "must be 1 to 32 of a-z, 0-9, _ and -");
        } else if !seen.insert(id.to_owned()) {
            v.add(f("id"), "must be unique in the campaign");
        }
        let weight = if pv.weight == 0 { 1 } else { pv.weight };
        let weight_ok = validate::in_range(&f("weight"), weight.into(), 1..=100, v).is_some();
        let subject = validate::text(
            &f("subject"),
            &pv.subject,
            limits.max_subject_chars,
            false,
            v,
        );
        let body = validate::multiline(&f("body"), &pv.body, limits.max_body_chars, true, v);
        for (name, text) in [("subject", &subject), ("body", &body)] {
            if let Err(why) = template::check(text) {
                v.add(f(name), why);
            }
        }
        let mut tiers = Vec::new();
        if validate::max_items(&f("tiers"), pv.tiers.len(), MAX_VARIANT_TIERS, v) {
            for (j, t) in pv.tiers.iter().enumerate() {
                let tier = t.trim();
                if !tier_ok(tier) {
                    v.add(
                        format!("{at}[{i}].tiers[{j}]"),
                        "must be 1 to 32 of a-z, 0-9, _ and -",
                    );
                } else {
                    tiers.push(tier.to_owned());
                }
            }
        }
        let coupon_pool = if pv.coupon_pool.is_empty() {
            None
        } else {
            v.check(f("coupon_pool"), CouponPoolId::parse_name(&pv.coupon_pool))
        };
        if id_ok && weight_ok {
            out.push(Variant {
                id: id.to_owned(),
                weight: weight.unsigned_abs(),
                subject,
                body,
                tiers,
                coupon_pool,
            });
        }
    }
    out
}

/// Tiers one variant may list.
const MAX_VARIANT_TIERS: usize = 10;
/// The longest test of an experiment, and a journey's longest delay.
const MAX_TEST_DAYS: i64 = 30;
const MAX_DELAY_DAYS: i64 = 365;

/// A loyalty tier code as loyalty names them ("gold").
fn tier_ok(t: &str) -> bool {
    (1..=32).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A whole number of seconds in `1..=max_secs` (or `0..` when `zero_ok`).
fn seconds(
    field: &str,
    d: Option<&prost_types::Duration>,
    zero_ok: bool,
    max_secs: i64,
    v: &mut Violations,
) -> Option<u32> {
    let Some(d) = d else {
        if zero_ok {
            return Some(0);
        }
        v.add(field, "is required");
        return None;
    };
    let min = i64::from(!zero_ok);
    if d.nanos != 0 || d.seconds < min || d.seconds > max_secs {
        v.add(field, format!("must be {min} to {max_secs} whole seconds"));
        return None;
    }
    u32::try_from(d.seconds).ok()
}

fn experiment(e: &pb::Experiment, at: &str, v: &mut Violations) -> Option<Experiment> {
    let test_percent = validate::in_range(
        &format!("{at}.test_percent"),
        e.test_percent.into(),
        1..=90,
        v,
    )
    .and_then(|n| u8::try_from(n).ok());
    let duration = seconds(
        &format!("{at}.test_duration"),
        e.test_duration.as_ref(),
        false,
        MAX_TEST_DAYS * 86_400,
        v,
    );
    let metric = match pb::experiment::Metric::try_from(e.metric) {
        Ok(pb::experiment::Metric::ConversionRate) => Some(Metric::ConversionRate),
        Ok(pb::experiment::Metric::ClickRate) => Some(Metric::ClickRate),
        Ok(pb::experiment::Metric::OpenRate) => Some(Metric::OpenRate),
        _ => {
            v.add(
                format!("{at}.metric"),
                "must be CONVERSION_RATE, CLICK_RATE or OPEN_RATE",
            );
            None
        }
    };
    Some(Experiment {
        test_percent: test_percent?,
        test_duration_secs: duration?,
        metric: metric?,
    })
}

fn trigger(t: &pb::Trigger, at: &str, v: &mut Violations) -> Option<Trigger> {
    use pb::trigger::Kind;
    let f = |name: &str| format!("{at}.{name}");
    let kind = match Kind::try_from(t.kind) {
        Ok(Kind::Welcome) => Some(TriggerKind::Welcome),
        Ok(Kind::Date) => Some(TriggerKind::Date),
        Ok(Kind::WinBack) => Some(TriggerKind::WinBack),
        Ok(Kind::Purchase) => Some(TriggerKind::Purchase),
        Ok(Kind::Booking) => Some(TriggerKind::Booking),
        _ => {
            v.add(
                f("kind"),
                "must be WELCOME, DATE, WIN_BACK, PURCHASE or BOOKING",
            );
            None
        }
    };
    let is = |k: TriggerKind| kind == Some(k);
    let date_kind = t.date_kind.trim();
    if is(TriggerKind::Date) {
        if !(1..=64).contains(&date_kind.len())
            || !date_kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            v.add(
                f("date_kind"),
                "must be \"birthday\" or an important date's kind (1 to 64 of a-z, 0-9, _)",
            );
        }
    } else if !date_kind.is_empty() {
        v.add(f("date_kind"), "is only for a DATE trigger");
    }
    let days_before = validate::in_range(&f("days_before"), t.days_before.into(), 0..=30, v)
        .and_then(|n| u8::try_from(n).ok());
    let time_of_day = if t.time_of_day.is_empty() {
        NaiveTime::from_hms_opt(9, 0, 0)
    } else {
        let parsed = NaiveTime::parse_from_str(&t.time_of_day, "%H:%M").ok();
        if parsed.is_none() {
            v.add(f("time_of_day"), "must be HH:MM (24 h)");
        }
        parsed
    };
    let inactive_days = if is(TriggerKind::WinBack) {
        validate::in_range(&f("inactive_days"), t.inactive_days.into(), 1..=3650, v)
            .and_then(|n| u16::try_from(n).ok())
    } else if t.inactive_days != 0 {
        v.add(f("inactive_days"), "is only for a WIN_BACK trigger");
        None
    } else {
        Some(0)
    };
    let delay = seconds(
        &f("delay"),
        t.delay.as_ref(),
        true,
        MAX_DELAY_DAYS * 86_400,
        v,
    );
    Some(Trigger {
        kind: kind?,
        date_kind: date_kind.to_owned(),
        days_before: days_before?,
        time_of_day: time_of_day?,
        inactive_days: inactive_days?,
        delay_secs: delay?,
    })
}

fn schedule(
    s: Option<&pb::Schedule>,
    now: DateTime<Utc>,
    at: &str,
    v: &mut Violations,
) -> Option<Schedule> {
    use pb::schedule::When;
    let latest = now + Duration::days(MAX_SCHEDULE_AHEAD_DAYS);
    match s.and_then(|s| s.when.as_ref()) {
        None => {
            v.add(at, "is required: immediately, start_time, local or trigger");
            None
        }
        Some(When::Trigger(t)) => trigger(t, &format!("{at}.trigger"), v).map(Schedule::Trigger),
        Some(When::Immediately(true)) => Some(Schedule::Immediately),
        Some(When::Immediately(false)) => {
            v.add(format!("{at}.immediately"), "must be true when set");
            None
        }
        Some(When::StartTime(t)) => {
            let field = format!("{at}.start_time");
            let t = validate::timestamp(&field, t, v)?;
            if t > latest {
                v.add(
                    field,
                    format!("must be within {MAX_SCHEDULE_AHEAD_DAYS} days"),
                );
                return None;
            }
            Some(Schedule::At(t))
        }
        Some(When::Local(l)) => {
            let date = NaiveDate::parse_from_str(&l.date, "%Y-%m-%d").ok();
            if date.is_none() {
                v.add(format!("{at}.local.date"), "must be YYYY-MM-DD");
            }
            let time = NaiveTime::parse_from_str(&l.time_of_day, "%H:%M").ok();
            if time.is_none() {
                v.add(format!("{at}.local.time_of_day"), "must be HH:MM (24 h)");
            }
            let (date, time) = (date?, time?);
            let s = Schedule::Local { date, time };
            if s.start_at(now) > latest {
                v.add(
                    format!("{at}.local.date"),
                    format!("must be within {MAX_SCHEDULE_AHEAD_DAYS} days"),
                );
                return None;
            }
            Some(s)
        }
    }
}
