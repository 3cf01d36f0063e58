//! Experiments: the holdout (a control share that receives nothing) and "test then winner"
//! (a test share gets the variants by weight; after the test duration the variant with the
//! best rate is sent to the rest). Assignment is a stable hash of campaign and customer, so
//! a customer is always in the same arm.
use super::campaign::{DeliveryState, Spec};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    ConversionRate,
    ClickRate,
    OpenRate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Experiment {
    /// Percent of the audience after the holdout that gets the test, 1 to 90.
    pub test_percent: u8,
    /// Seconds after the start when the winner is chosen.
    pub test_duration_secs: u32,
    pub metric: Metric,
}

impl Experiment {
    /// Whether the test of a campaign started at `start` is over at `now`.
    pub fn is_over(&self, start: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        start + Duration::seconds(self.test_duration_secs.into()) <= now
    }
}

/// Where one recipient of a campaign is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    /// In the control group.
    Holdout,
    /// Gets a variant now (the whole audience when there is no experiment).
    Test,
    /// Waits for the experiment's winner.
    Rest,
}

/// Hash buckets: a percent is 100 of them, so shares are exact to 0.01 %.
const BUCKETS: u64 = 10_000;
/// Domain separation of the two draws from each other and from the variant's
/// (`sending::assign_variant`, which hashes campaign and customer unsalted): the holdout,
/// the test share and the variant of one customer are independent.
const HOLDOUT_SALT: &[u8] = b"crm.campaigns.holdout\0";
const TEST_SALT: &[u8] = b"crm.campaigns.test\0";

/// The bucket, 0 to 9999, of `customer` in `campaign` for the draw `salt`.
fn bucket(salt: &[u8], campaign: Uuid, customer: Uuid) -> u64 {
    let digest = Sha256::new()
        .chain_update(salt)
        .chain_update(campaign.as_bytes())
        .chain_update(customer.as_bytes())
        .finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    // Multiply-shift maps the 64-bit hash onto 0..BUCKETS without a modulo's bias.
    ((u128::from(u64::from_be_bytes(head)) * u128::from(BUCKETS)) >> 64) as u64
}

/// The arm of `customer` in `campaign`: held out with probability `holdout_percent`; of
/// the others, with an experiment, in the test with probability `test_percent` (else the
/// rest); without one, all in the test.
pub fn assign(
    campaign: Uuid,
    customer: Uuid,
    holdout_percent: u8,
    experiment: Option<&Experiment>,
) -> Arm {
    if bucket(HOLDOUT_SALT, campaign, customer) < u64::from(holdout_percent) * 100 {
        return Arm::Holdout;
    }
    match experiment {
        Some(e) if bucket(TEST_SALT, campaign, customer) >= u64::from(e.test_percent) * 100 => {
            Arm::Rest
        }
        _ => Arm::Test,
    }
}

/// The problems of an experiment with the rest of its campaign, by field (for a whole
/// campaign, e.g. after an update merged a patch into a draft).
pub fn problems(spec: &Spec) -> Vec<(&'static str, &'static str)> {
    let mut p = Vec::new();
    if spec.experiment.is_none() {
        return p;
    }
    if matches!(spec.schedule, super::campaign::Schedule::Trigger(_)) {
        p.push((
            "experiment",
            "is not for a journey (a trigger schedule): its audience never ends",
        ));
    }
    if spec.variants.len() < 2 {
        p.push(("variants", "an experiment needs at least two variants"));
    }
    p
}

/// One variant's test counts, for the winner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantCounts {
    pub variant: String,
    /// Recipients due (the conversion rate's denominator).
    pub recipients: u64,
    pub sent: u64,
    pub opened: u64,
    pub clicked: u64,
    pub converted: u64,
}

/// Deliveries of the test share in one variant and state, with their first opens and
/// clicks (`deliveries.open_time` / `click_time` set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRow {
    pub variant: String,
    pub state: DeliveryState,
    pub deliveries: u64,
    pub opened: u64,
    pub clicked: u64,
}

/// Whether a delivery in `state` has started: it was sent, skipped, failed or held out
/// (intent to treat: a recipient counts once the campaign decided about it).
fn started(state: DeliveryState) -> bool {
    use DeliveryState as D;
    !matches!(state, D::Pending | D::Queued | D::AwaitingWinner)
}

/// The test's counts per variant in `variants`' order (the campaign's; a variant with no
/// rows has zeros). `converted`: recipients with a conversion per variant, or None when the
/// campaign's goal is a click (a click is the conversion).
pub fn tally<'a>(
    variants: impl IntoIterator<Item = &'a str>,
    rows: &[TestRow],
    converted: Option<&[(String, u64)]>,
) -> Vec<VariantCounts> {
    variants
        .into_iter()
        .map(|id| {
            let mut c = VariantCounts {
                variant: id.to_owned(),
                recipients: 0,
                sent: 0,
                opened: 0,
                clicked: 0,
                converted: 0,
            };
            for r in rows.iter().filter(|r| r.variant == id) {
                if started(r.state) {
                    c.recipients = c.recipients.saturating_add(r.deliveries);
                }
                if r.state.was_sent() {
                    c.sent = c.sent.saturating_add(r.deliveries);
                }
                c.opened = c.opened.saturating_add(r.opened);
                c.clicked = c.clicked.saturating_add(r.clicked);
            }
            c.converted = match converted {
                None => c.clicked,
                Some(list) => list.iter().filter(|(v, _)| v == id).map(|(_, n)| *n).sum(),
            };
            c
        })
        .collect()
}

/// `c`'s rate by `metric` as (numerator, denominator).
fn rate(c: &VariantCounts, metric: Metric) -> (u64, u64) {
    match metric {
        Metric::ConversionRate => (c.converted, c.recipients),
        Metric::ClickRate => (c.clicked, c.sent),
        Metric::OpenRate => (c.opened, c.sent),
    }
}

/// Whether rate `a` is above rate `b` (a rate over no one is 0), exactly: by
/// cross-multiplication, no floats.
fn above((an, ad): (u64, u64), (bn, bd): (u64, u64)) -> bool {
    let (an, bn) = (if ad == 0 { 0 } else { an }, if bd == 0 { 0 } else { bn });
    u128::from(an) * u128::from(bd.max(1)) > u128::from(bn) * u128::from(ad.max(1))
}

/// The winner by `metric` among the variants with recipients (ties: the first in
/// `counts`' order, the campaign's); None when no variant has any recipient yet.
pub fn pick_winner(counts: &[VariantCounts], metric: Metric) -> Option<String> {
    let mut best: Option<&VariantCounts> = None;
    for c in counts.iter().filter(|c| c.recipients > 0) {
        if best.is_none_or(|b| above(rate(c, metric), rate(b, metric))) {
            best = Some(c);
        }
    }
    best.map(|c| c.variant.clone())
}

/// The variant the rest gets once the test is over: the winner; or, when no test recipient
/// has started and none is left to start (a test share too small to hold anyone), the first
/// variant, so the rest is not held forever. None: wait (test deliveries are still due).
pub fn winner_to_release(
    counts: &[VariantCounts],
    rows: &[TestRow],
    metric: Metric,
) -> Option<String> {
    pick_winner(counts, metric).or_else(|| {
        if rows.iter().any(|r| !started(r.state)) {
            None
        } else {
            counts.first().map(|c| c.variant.clone())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u128) -> impl Iterator<Item = Uuid> {
        (0..n).map(|i| Uuid::from_u128(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xabcdef))
    }

    fn experiment(test_percent: u8) -> Experiment {
        Experiment {
            test_percent,
            test_duration_secs: 60,
            metric: Metric::ClickRate,
        }
    }

    #[test]
    fn a_customer_always_lands_in_the_same_arm() {
        let campaign = Uuid::from_u128(7);
        let e = experiment(20);
        for customer in ids(1000) {
            let first = assign(campaign, customer, 10, Some(&e));
            for _ in 0..3 {
                assert_eq!(assign(campaign, customer, 10, Some(&e)), first);
            }
        }
    }

    #[test]
    fn the_hash_is_pinned() {
        // Reports and journeys recompute arms, and a changed hash would move the recipients
        // of running campaigns. Buckets computed independently (python3: int.from_bytes(
        // sha256(salt + campaign.bytes + customer.bytes)[:8], "big") * 10000 >> 64).
        let campaign = Uuid::from_u128(7);
        let holdout: Vec<u64> = ids(8).map(|c| bucket(HOLDOUT_SALT, campaign, c)).collect();
        let test: Vec<u64> = ids(8).map(|c| bucket(TEST_SALT, campaign, c)).collect();
        assert_eq!(holdout, [2215, 7012, 8783, 4110, 8652, 7086, 1618, 9787]);
        assert_eq!(test, [3411, 3829, 6670, 9552, 5396, 8195, 6827, 4687]);
        // Holdout 25 % (buckets < 2500), then test 40 % (< 4000).
        let arms: Vec<Arm> = ids(8)
            .map(|c| assign(campaign, c, 25, Some(&experiment(40))))
            .collect();
        use Arm::{Holdout as H, Rest as R, Test as T};
        assert_eq!(arms, [H, T, R, R, R, R, H, R]);
    }

    #[test]
    fn shares_hold_within_tolerance_over_100k_ids() {
        let campaign = Uuid::from_u128(42);
        let e = experiment(20);
        let (mut holdout, mut test, mut rest) = (0u64, 0u64, 0u64);
        for customer in ids(100_000) {
            match assign(campaign, customer, 10, Some(&e)) {
                Arm::Holdout => holdout += 1,
                Arm::Test => test += 1,
                Arm::Rest => rest += 1,
            }
        }
        // Holdout: 10 % of 100k = 10,000 (sd ~95); test: 20 % of the other ~90,000 = 18,000
        // (sd ~120). 500 is over 4 sd either way.
        assert!(holdout.abs_diff(10_000) < 500, "holdout {holdout}");
        assert!(test.abs_diff(18_000) < 500, "test {test}");
        assert_eq!(holdout + test + rest, 100_000);
    }

    #[test]
    fn the_draws_are_independent_of_each_other_and_of_the_variant() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let e = experiment(50);
        let (mut both_held, mut test_a, mut test_variant0) = (0u64, 0u64, 0u64);
        for customer in ids(100_000) {
            let in_a = assign(a, customer, 10, None) == Arm::Holdout;
            if in_a && assign(b, customer, 10, None) == Arm::Holdout {
                both_held += 1;
            }
            if assign(a, customer, 0, Some(&e)) == Arm::Test {
                test_a += 1;
                if super::super::sending::assign_variant(a, customer, &[1, 1]) == 0 {
                    test_variant0 += 1;
                }
            }
        }
        // Another campaign's holdout is another 10 %: 1 % overlap (1,000, sd ~31).
        assert!(both_held.abs_diff(1_000) < 200, "overlap {both_held}");
        // Half of the test share gets variant 0 (25,000 of 50,000, sd ~112).
        assert!(test_a.abs_diff(50_000) < 600, "test {test_a}");
        assert!(
            test_variant0.abs_diff(test_a / 2) < 600,
            "variant 0 {test_variant0} of {test_a}"
        );
    }

    #[test]
    fn without_an_experiment_everyone_not_held_out_is_in_the_test() {
        let campaign = Uuid::from_u128(3);
        for customer in ids(2000) {
            assert_ne!(assign(campaign, customer, 30, None), Arm::Rest);
            assert_eq!(assign(campaign, customer, 0, None), Arm::Test);
        }
        let e = experiment(90);
        let rest = ids(10_000)
            .filter(|c| assign(campaign, *c, 0, Some(&e)) == Arm::Rest)
            .count();
        assert!(rest.abs_diff(1_000) < 200, "rest {rest}");
    }

    fn counts(
        variant: &str,
        recipients: u64,
        sent: u64,
        opened: u64,
        clicked: u64,
    ) -> VariantCounts {
        VariantCounts {
            variant: variant.into(),
            recipients,
            sent,
            opened,
            clicked,
            converted: clicked / 2,
        }
    }

    #[test]
    fn the_winner_has_the_highest_rate_of_its_metric() {
        // a: clicks 10/100 = 10 %, opens 40/100; b: clicks 9/60 = 15 %, opens 20/60 = 33 %.
        let c = [counts("a", 120, 100, 40, 10), counts("b", 60, 60, 20, 9)];
        assert_eq!(pick_winner(&c, Metric::ClickRate).as_deref(), Some("b"));
        assert_eq!(pick_winner(&c, Metric::OpenRate).as_deref(), Some("a"));
        // conversions 5/120 = 4.2 % vs 4/60 = 6.7 %.
        assert_eq!(
            pick_winner(&c, Metric::ConversionRate).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn ties_go_to_the_first_variant_and_no_recipients_to_none() {
        let tie = [
            counts("a", 10, 10, 2, 1),
            counts("b", 20, 20, 4, 2),
            counts("c", 30, 30, 6, 3),
        ];
        assert_eq!(pick_winner(&tie, Metric::ClickRate).as_deref(), Some("a"));
        let zeros = [counts("a", 10, 10, 0, 0), counts("b", 10, 10, 0, 0)];
        assert_eq!(pick_winner(&zeros, Metric::OpenRate).as_deref(), Some("a"));
        let nobody = [counts("a", 0, 0, 0, 0), counts("b", 0, 0, 0, 0)];
        assert_eq!(pick_winner(&nobody, Metric::ClickRate), None);
        assert_eq!(pick_winner(&[], Metric::ClickRate), None);
        // A variant nobody was assigned to does not win by default; nothing sent is rate 0.
        let first_empty = [counts("a", 0, 0, 0, 0), counts("b", 5, 0, 0, 0)];
        assert_eq!(
            pick_winner(&first_empty, Metric::ClickRate).as_deref(),
            Some("b")
        );
        let unsent = [counts("a", 5, 0, 0, 0), counts("b", 5, 5, 0, 1)];
        assert_eq!(
            pick_winner(&unsent, Metric::ClickRate).as_deref(),
            Some("b")
        );
        // Huge counts compare exactly (no overflow, no float rounding).
        let big = [
            counts("a", u64::MAX, u64::MAX, 0, u64::MAX - 1),
            counts("b", u64::MAX, u64::MAX, 0, u64::MAX),
        ];
        assert_eq!(pick_winner(&big, Metric::ClickRate).as_deref(), Some("b"));
    }

    fn row(variant: &str, state: DeliveryState, n: u64, opened: u64, clicked: u64) -> TestRow {
        TestRow {
            variant: variant.into(),
            state,
            deliveries: n,
            opened,
            clicked,
        }
    }

    #[test]
    fn the_tally_counts_started_recipients_and_first_opens_and_clicks() {
        use DeliveryState as D;
        let rows = [
            row("a", D::Sent, 5, 0, 0),
            row("a", D::Clicked, 2, 2, 2),
            row("a", D::Unsubscribed, 1, 1, 1),
            row("a", D::Skipped, 3, 0, 0),
            row("a", D::Pending, 4, 0, 0),
            row("b", D::Opened, 6, 6, 0),
            row("x", D::Sent, 9, 9, 9),
        ];
        let clicks = tally(["a", "b", "c"], &rows, None);
        assert_eq!(
            clicks,
            [
                VariantCounts {
                    variant: "a".into(),
                    recipients: 11,
                    sent: 8,
                    opened: 3,
                    clicked: 3,
                    converted: 3,
                },
                VariantCounts {
                    variant: "b".into(),
                    recipients: 6,
                    sent: 6,
                    opened: 6,
                    clicked: 0,
                    converted: 0,
                },
                VariantCounts {
                    variant: "c".into(),
                    recipients: 0,
                    sent: 0,
                    opened: 0,
                    clicked: 0,
                    converted: 0,
                },
            ]
        );
        let converted = [("b".to_owned(), 4), ("".to_owned(), 7)];
        let purchases = tally(["a", "b"], &rows, Some(&converted));
        assert_eq!(
            (purchases[0].converted, purchases[1].converted),
            (0, 4),
            "the holdout's conversions are not a variant's"
        );
    }

    #[test]
    fn the_rest_waits_for_due_test_deliveries_unless_a_winner_is_known() {
        use DeliveryState as D;
        let pending = [row("a", D::Pending, 3, 0, 0)];
        let c = tally(["a", "b"], &pending, None);
        assert_eq!(winner_to_release(&c, &pending, Metric::ClickRate), None);
        let c = tally(["a", "b"], &[], None);
        assert_eq!(
            winner_to_release(&c, &[], Metric::ClickRate).as_deref(),
            Some("a"),
            "an empty test share: the first variant"
        );
        let some = [row("a", D::Pending, 3, 0, 0), row("b", D::Clicked, 1, 1, 1)];
        let c = tally(["a", "b"], &some, None);
        assert_eq!(
            winner_to_release(&c, &some, Metric::ClickRate).as_deref(),
            Some("b")
        );
    }

    #[test]
    fn the_test_is_over_after_its_duration() {
        let e = experiment(10);
        let start: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().expect("t");
        assert!(!e.is_over(start, start + Duration::seconds(59)));
        assert!(e.is_over(start, start + Duration::seconds(60)));
    }
}
