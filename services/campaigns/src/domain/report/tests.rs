//! The expected intervals were computed by hand from the formulas in `report.rs` (with
//! Python's `math.sqrt`, 10 decimals) and agree with the published tables: Wilson's 81/263
//! is Newcombe 1998a's example, the differences are Newcombe 1998b's Table II, method 10,
//! cases (a) to (f) (printed there to 4 decimals: 0.0524 0.3339, 0.1705 0.8090, 0.0582
//! 0.8062, -0.0381 0.1926, -0.1611 0.2775, 0.6791 1.0000).
use super::*;
use crate::domain::SegmentId;
use crate::domain::campaign::{CampaignFields, Channel, Goal, Schedule, Spec, Variant};

fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

fn pair(got: (f64, f64), want: (f64, f64)) {
    close(got.0, want.0);
    close(got.1, want.1);
}

#[test]
fn wilson_intervals_match_the_hand_computed_ones() {
    // 81/263: p = 0.30798, center = (p + z²/526) / (1 + z²/263), half-width 0.05546.
    pair(wilson(81, 263, Z95), (0.255_288_519_9, 0.366_209_577_0));
    // 0/10: the lower bound is 0 exactly, the upper z²/(n + z²) = 3.8415/13.8415.
    pair(wilson(0, 10, Z95), (0.0, 0.277_532_799_9));
    pair(wilson(10, 10, Z95), (0.722_467_200_1, 1.0));
    pair(wilson(15, 148, Z95), (0.062_386_399_5, 0.160_487_241_7));
    assert_eq!(
        wilson(0, 0, Z95),
        (0.0, 1.0),
        "nothing known: the whole range"
    );
}

#[test]
fn newcombe_intervals_match_newcombes_table() {
    let cases = [
        ((56, 70, 48, 80), (0.052_431_472_4, 0.333_872_654_0)),
        ((9, 10, 3, 10), (0.170_522_723_9, 0.809_017_973_5)),
        ((6, 7, 2, 7), (0.058_227_927_5, 0.806_249_637_5)),
        ((5, 56, 0, 29), (-0.038_137_147_9, 0.192_560_013_9)),
        ((0, 10, 0, 20), (-0.161_125_158_1, 0.277_532_799_9)),
        ((10, 10, 0, 20), (0.679_086_037_1, 1.0)),
    ];
    for ((x1, n1, x2, n2), want) in cases {
        pair(newcombe(x1, n1, x2, n2, Z95), want);
    }
}

#[test]
fn lift_is_the_rate_difference_with_its_interval_and_relative_change() {
    // 12% vs 10% of 1000 each: +2 points, +20%, interval (-0.0075, 0.0476) holds 0.
    let l = lift(120, 1000, 100, 1000, Z95);
    close(l.absolute, 0.02);
    close(l.relative.expect("holdout converted"), 0.2);
    pair((l.lower, l.upper), (-0.007_492_167_5, 0.047_550_667_5));
    assert!(!l.significant());
    let l = lift(56, 70, 48, 80, Z95);
    close(l.absolute, 0.2);
    assert!(l.significant(), "{l:?}");
    // A variant doing worse, significantly: the interval is below 0.
    let l = lift(48, 80, 56, 70, Z95);
    pair((l.lower, l.upper), (-0.333_872_654_0, -0.052_431_472_4));
    assert!(l.significant());
    let l = lift(5, 56, 0, 29, Z95);
    assert_eq!(l.relative, None, "the holdout's rate is 0");
    assert!(!l.significant());
}

#[test]
fn windows_open_at_the_send_or_the_due_time_and_hold_window_days() {
    let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
    let (send, due) = (t("2026-03-01T10:00:00Z"), t("2026-03-01T08:00:00Z"));
    use DeliveryState as D;
    assert_eq!(attribution_start(D::Opened, Some(send), due), Some(send));
    assert_eq!(attribution_start(D::Bounced, Some(send), due), Some(send));
    for s in [D::HeldOut, D::Skipped, D::Failed] {
        assert_eq!(attribution_start(s, Some(send), due), Some(due), "{s:?}");
    }
    for s in [D::Pending, D::Queued, D::AwaitingWinner] {
        assert_eq!(attribution_start(s, Some(send), due), None, "{s:?}");
    }
    assert!(in_window(send, 7, send), "the send itself");
    assert!(in_window(send, 7, t("2026-03-08T09:59:59Z")));
    assert!(
        !in_window(send, 7, t("2026-03-08T10:00:00Z")),
        "7 days later"
    );
    assert!(
        !in_window(send, 7, t("2026-03-01T09:59:59Z")),
        "before the send"
    );
}

#[test]
fn days_count_from_the_epoch_in_utc() {
    let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
    assert_eq!(day_of(t("1970-01-01T23:59:59Z")), 0);
    assert_eq!(day_of(t("1969-12-31T23:59:59Z")), -1);
    // 2026-03-01 is day 20513 (56 years with 14 leap days: 56 * 365 + 14 + 59).
    assert_eq!(day_of(t("2026-03-01T00:00:00Z")), 20_513);
    assert_eq!(date_of(20_513), NaiveDate::from_ymd_opt(2026, 3, 1));
}

fn campaign(goal: GoalKind, holdout_percent: u8) -> Campaign {
    let variant = |id: &str| Variant {
        id: id.into(),
        weight: 1,
        subject: "s".into(),
        body: "b".into(),
        tiers: vec![],
        coupon_pool: None,
    };
    let fields = CampaignFields {
        display_name: "x".into(),
        segment: SegmentId::generate(),
        channel: Channel::Email,
        transactional: false,
        throttle_per_second: 10,
        spec: Spec {
            goal: Goal {
                kind: goal,
                window_days: 7,
            },
            exclusions: vec![],
            variants: vec![variant("a"), variant("b")],
            schedule: Schedule::Immediately,
            coupon_code: String::new(),
            experiment: None,
            holdout_percent,
        },
    };
    Campaign::new(fields, DateTime::UNIX_EPOCH)
}

fn tally(variant: &str, state: DeliveryState, reason: Reason, count: u64) -> DeliveryTally {
    DeliveryTally {
        variant: variant.into(),
        state,
        reason,
        count,
        opened: 0,
        clicked: 0,
    }
}

fn total(variant: &str, currency: &str, conversions: u64, revenue_minor: i64) -> ConversionTotal {
    ConversionTotal {
        variant: variant.into(),
        currency: currency.into(),
        conversions,
        revenue_minor,
    }
}

#[test]
fn a_report_puts_every_row_in_its_arm_and_compares_each_variant_with_the_holdout() {
    use DeliveryState as D;
    let facts = Facts {
        tallies: vec![
            DeliveryTally {
                opened: 10,
                clicked: 10,
                ..tally("a", D::Clicked, Reason::None, 10)
            },
            DeliveryTally {
                opened: 30,
                ..tally("a", D::Opened, Reason::None, 30)
            },
            tally("a", D::Sent, Reason::None, 50),
            tally("a", D::Skipped, Reason::NoConsent, 8),
            tally("a", D::Skipped, Reason::FrequencyCap, 2),
            tally("b", D::Delivered, Reason::None, 90),
            tally("b", D::Failed, Reason::SenderError, 10),
            tally("b", D::Pending, Reason::None, 5),
            tally("", D::HeldOut, Reason::None, 100),
            // The rest before the winner, and the rest a cancel skipped: in no arm.
            tally("", D::AwaitingWinner, Reason::None, 7),
            tally("", D::Skipped, Reason::CampaignCancelled, 3),
        ],
        totals: vec![
            total("a", "EUR", 3, 4_500),
            total("a", "CNY", 14, 120_000),
            total("", "CNY", 6, 30_000),
            total("b", "", 2, 0),
        ],
        converted: vec![("a".into(), 15), ("".into(), 5), ("b".into(), 2)],
        days: vec![
            DayTotal {
                day: 20_514,
                total: total("", "CNY", 1, 100),
            },
            DayTotal {
                day: 20_514,
                total: total("a", "EUR", 2, 300),
            },
            DayTotal {
                day: 20_513,
                total: total("b", "", 1, 0),
            },
            DayTotal {
                day: 20_514,
                total: total("a", "CNY", 1, 200),
            },
        ],
    };
    let c = campaign(GoalKind::Purchase, 10);
    let now = DateTime::UNIX_EPOCH + Duration::days(20_515);
    let r = build(&c, facts, now);
    let [a, b] = &r.variants[..] else {
        panic!("two variants: {:?}", r.variants)
    };
    assert_eq!(
        (
            a.recipients,
            a.pending,
            a.sent,
            a.delivered,
            a.opened,
            a.clicked
        ),
        (100, 0, 90, 40, 40, 10)
    );
    assert_eq!(
        a.skipped,
        vec![(Reason::NoConsent, 8), (Reason::FrequencyCap, 2)]
    );
    assert_eq!((a.converted, a.conversions), (15, 17));
    close(a.conversion_rate, 0.15);
    assert_eq!(
        a.revenue,
        vec![("CNY".into(), 120_000), ("EUR".into(), 4_500)]
    );
    assert_eq!(
        (b.recipients, b.pending, b.sent, b.delivered),
        (100, 5, 90, 90)
    );
    assert!(
        b.revenue.is_empty(),
        "a purchase without a currency adds none"
    );
    let h = r.holdout.as_ref().expect("a holdout");
    assert_eq!(
        (h.recipients, h.sent, h.converted, h.conversions),
        (100, 0, 5, 6)
    );
    assert_eq!(r.lifts.len(), 2);
    assert_eq!(r.lifts[0].variant, "a");
    assert_eq!(r.lifts[0].lift, lift(15, 100, 5, 100, Z95));
    assert!(r.lifts[0].lift.significant(), "{:?}", r.lifts[0]);
    assert_eq!(r.lifts[1].lift, lift(2, 100, 5, 100, Z95));
    let day = |d: &Daily| (d.date.to_string(), d.variant.clone(), d.conversions);
    assert_eq!(
        r.timeline.iter().map(day).collect::<Vec<_>>(),
        vec![
            ("2026-03-01".into(), "b".into(), 1),
            ("2026-03-02".into(), "a".into(), 3),
            ("2026-03-02".into(), "".into(), 1),
        ]
    );
    assert_eq!(
        r.timeline[1].revenue,
        vec![("CNY".into(), 200), ("EUR".into(), 300)]
    );
    assert_eq!((r.confidence_level, r.compute_time), (0.95, now));
}

#[test]
fn click_goals_count_clicks_and_have_no_lift() {
    use DeliveryState as D;
    let facts = Facts {
        tallies: vec![
            DeliveryTally {
                opened: 4,
                clicked: 4,
                ..tally("a", D::Clicked, Reason::None, 4)
            },
            tally("a", D::Sent, Reason::None, 6),
            tally("", D::HeldOut, Reason::None, 10),
        ],
        ..Facts::default()
    };
    let r = build(&campaign(GoalKind::Click, 10), facts, DateTime::UNIX_EPOCH);
    assert_eq!((r.variants[0].converted, r.variants[0].conversions), (4, 4));
    close(r.variants[0].conversion_rate, 0.4);
    assert!(r.lifts.is_empty() && r.timeline.is_empty());
}

#[test]
fn without_a_holdout_or_its_recipients_there_is_no_lift() {
    use DeliveryState as D;
    let facts = || Facts {
        tallies: vec![tally("a", D::Sent, Reason::None, 6)],
        ..Facts::default()
    };
    let r = build(
        &campaign(GoalKind::Purchase, 0),
        facts(),
        DateTime::UNIX_EPOCH,
    );
    assert!(r.holdout.is_none() && r.lifts.is_empty());
    // A holdout not due yet: the arm is there, empty, and nothing to compare with.
    let r = build(
        &campaign(GoalKind::Purchase, 10),
        facts(),
        DateTime::UNIX_EPOCH,
    );
    assert_eq!(r.holdout.map(|h| h.recipients), Some(0));
    assert!(r.lifts.is_empty());
}

#[test]
fn report_names_round_trip() {
    let c = CampaignId::generate();
    assert_eq!(parse_report_name(&report_name(c)), Ok(c));
    for bad in [
        "",
        "campaigns/x/report",
        &c.name(),
        &format!("{}/reports", c.name()),
        &format!("{}/report/x", c.name()),
    ] {
        assert!(parse_report_name(bad).is_err(), "{bad}");
    }
}
