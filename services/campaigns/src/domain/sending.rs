//! The per-recipient rules of one send that need no database: quiet hours in the recipient's
//! time zone, the variant a recipient gets, and which frequency cap applies.
use crate::domain::campaign::Channel;
use crate::settings::FrequencyCap;
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Wall-clock hours in which marketing is not sent. `start > end` wraps midnight
/// (21:00-08:00 is quiet from 21:00 until 08:00 the next morning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    start: NaiveTime,
    end: NaiveTime,
}

impl QuietHours {
    /// `"HH:MM"` twice; None when either is empty or not a time, or both are equal (no quiet
    /// hours).
    pub fn parse(start: &str, end: &str) -> Option<Self> {
        let start = NaiveTime::parse_from_str(start, "%H:%M").ok()?;
        let end = NaiveTime::parse_from_str(end, "%H:%M").ok()?;
        (start != end).then_some(Self { start, end })
    }

    /// None when `now` is not in quiet hours in `tz`; else the instant they end there (the
    /// first instant after, when DST skips the end's wall-clock time).
    pub fn defer_until(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let mut until = self.quiet_end(now, tz)?;
        // A gap that skips the end can land in the next night's quiet hours (Kiritimati
        // skipped a whole day): then the end of those.
        for _ in 0..3 {
            match self.quiet_end(until, tz) {
                Some(later) => until = later,
                None => break,
            }
        }
        Some(until)
    }

    /// One step of [`Self::defer_until`]: the end of the quiet hours `now` is in.
    fn quiet_end(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&tz).naive_local();
        let (time, today) = (local.time(), local.date());
        let end_date = if self.start < self.end {
            if !(self.start <= time && time < self.end) {
                return None;
            }
            today
        } else if time >= self.start {
            today.succ_opt()?
        } else if time < self.end {
            today
        } else {
            return None;
        };
        first_instant_at_or_after(tz, end_date.and_time(self.end), now)
    }
}

/// The first instant after `now` whose wall-clock time in `tz` is `wall`, or the first instant
/// after a DST gap that skips it.
fn first_instant_at_or_after(
    tz: Tz,
    wall: NaiveDateTime,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // Gaps are whole minutes and at most a day long (Pacific/Kiritimati skipped 1994-12-31).
    let mut at = wall;
    for _ in 0..=(48 * 60) {
        match tz.from_local_datetime(&at) {
            LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
            // A repeated hour: the earlier one unless it has passed.
            LocalResult::Ambiguous(early, late) => {
                let early = early.with_timezone(&Utc);
                return Some(if early > now {
                    early
                } else {
                    late.with_timezone(&Utc)
                });
            }
            LocalResult::None => at += Duration::minutes(1),
        }
    }
    None
}

/// The index of the variant a recipient gets, by `weights` (relative shares). Stable: the
/// same campaign and customer always get the same one (a resend or another replica agrees),
/// and independent across campaigns. Zero weights are never chosen; no positive weight: 0.
pub fn assign_variant(campaign: Uuid, customer: Uuid, weights: &[u32]) -> usize {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if total == 0 {
        return 0;
    }
    let digest = Sha256::new()
        .chain_update(campaign.as_bytes())
        .chain_update(customer.as_bytes())
        .finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    // Multiply-shift maps the 64-bit hash onto 0..total without modulo bias worth noting.
    let point = ((u128::from(u64::from_be_bytes(head)) * u128::from(total)) >> 64) as u64;
    let mut upto = 0u64;
    for (i, w) in weights.iter().enumerate() {
        upto += u64::from(*w);
        if point < upto {
            return i;
        }
    }
    weights.len() - 1
}

/// A recipient's IANA time zone; empty or unknown ones are UTC.
pub fn parse_time_zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// The first frequency cap configured for `channel`: (most messages, window).
pub fn cap_for(caps: &[FrequencyCap], channel: Channel) -> Option<(u32, Duration)> {
    caps_for(caps, channel).next()
}

/// Every cap configured for `channel` (several may apply, e.g. 1 a day and 3 a week); a
/// recipient at or over any of them is skipped.
pub fn caps_for(
    caps: &[FrequencyCap],
    channel: Channel,
) -> impl Iterator<Item = (u32, Duration)> + '_ {
    caps.iter()
        .filter(move |c| c.channel == channel.code())
        .map(|c| (c.max, Duration::hours(i64::from(c.window_hours))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    fn tz(name: &str) -> Tz {
        let tz = parse_time_zone(name);
        assert_eq!(tz.name(), name, "known zone");
        tz
    }

    fn night() -> QuietHours {
        QuietHours::parse("21:00", "08:00").expect("valid")
    }

    #[test]
    fn parse_refuses_bad_or_empty_times() {
        assert!(QuietHours::parse("", "").is_none());
        assert!(QuietHours::parse("21:00", "").is_none());
        assert!(QuietHours::parse("25:00", "08:00").is_none());
        assert!(
            QuietHours::parse("08:00", "08:00").is_none(),
            "empty window"
        );
        assert!(QuietHours::parse("12:00", "13:30").is_some());
    }

    #[test]
    fn wrapping_quiet_hours_in_utc() {
        let q = night();
        assert_eq!(q.defer_until(utc("2026-06-01T12:00:00Z"), Tz::UTC), None);
        assert_eq!(q.defer_until(utc("2026-06-01T20:59:59Z"), Tz::UTC), None);
        assert_eq!(
            q.defer_until(utc("2026-06-01T21:00:00Z"), Tz::UTC),
            Some(utc("2026-06-02T08:00:00Z"))
        );
        assert_eq!(
            q.defer_until(utc("2026-06-01T23:30:00Z"), Tz::UTC),
            Some(utc("2026-06-02T08:00:00Z"))
        );
        assert_eq!(
            q.defer_until(utc("2026-06-02T03:00:00Z"), Tz::UTC),
            Some(utc("2026-06-02T08:00:00Z"))
        );
        assert_eq!(q.defer_until(utc("2026-06-02T08:00:00Z"), Tz::UTC), None);
    }

    #[test]
    fn non_wrapping_quiet_hours() {
        let lunch = QuietHours::parse("12:00", "13:30").expect("valid");
        assert_eq!(
            lunch.defer_until(utc("2026-06-01T11:59:00Z"), Tz::UTC),
            None
        );
        assert_eq!(
            lunch.defer_until(utc("2026-06-01T12:00:00Z"), Tz::UTC),
            Some(utc("2026-06-01T13:30:00Z"))
        );
        assert_eq!(
            lunch.defer_until(utc("2026-06-01T13:30:00Z"), Tz::UTC),
            None
        );
        assert_eq!(
            lunch.defer_until(utc("2026-06-01T23:00:00Z"), Tz::UTC),
            None
        );
    }

    #[test]
    fn quiet_hours_are_the_recipients() {
        let q = night();
        // 13:00 UTC is 21:00 in Shanghai (UTC+8, no DST): quiet until 08:00 there = 00:00 UTC.
        let now = utc("2026-03-10T13:00:00Z");
        assert_eq!(
            q.defer_until(now, tz("Asia/Shanghai")),
            Some(utc("2026-03-11T00:00:00Z"))
        );
        assert_eq!(
            q.defer_until(now, Tz::UTC),
            None,
            "13:00 UTC is not quiet in UTC"
        );
        // Kiritimati is UTC+14: 19:00 UTC is 09:00 the next day there, not quiet; 08:00 UTC
        // is 22:00 there, quiet until 08:00 local = 18:00 UTC.
        let kiri = tz("Pacific/Kiritimati");
        assert_eq!(q.defer_until(utc("2026-03-10T19:00:00Z"), kiri), None);
        assert_eq!(
            q.defer_until(utc("2026-03-10T08:00:00Z"), kiri),
            Some(utc("2026-03-10T18:00:00Z"))
        );
    }

    #[test]
    fn a_skipped_day_defers_to_the_end_of_the_next_quiet_hours() {
        // Kiritimati moved from UTC-10 to UTC+14 by skipping 1994-12-31. At 21:00 on Dec 30
        // (07:00 UTC on the 31st) the quiet hours would end at 08:00 on the 31st, which never
        // happened; the first instant after the gap is 00:00 on Jan 1, quiet again, so the
        // message waits until 08:00 on Jan 1 (18:00 UTC on Dec 31).
        let kiri = tz("Pacific/Kiritimati");
        assert_eq!(
            night().defer_until(utc("1994-12-31T07:00:00Z"), kiri),
            Some(utc("1994-12-31T18:00:00Z"))
        );
    }

    #[test]
    fn new_york_across_dst() {
        let q = night();
        let ny = tz("America/New_York");
        // Spring forward 2026-03-08 02:00 EST -> 03:00 EDT. At 22:00 EST on the 7th (03:00 UTC
        // on the 8th), quiet until 08:00 EDT = 12:00 UTC (not 13:00, the EST reading).
        assert_eq!(
            q.defer_until(utc("2026-03-08T03:00:00Z"), ny),
            Some(utc("2026-03-08T12:00:00Z"))
        );
        // Fall back 2026-11-01 02:00 EDT -> 01:00 EST: 08:00 EST = 13:00 UTC.
        assert_eq!(
            q.defer_until(utc("2026-11-01T02:00:00Z"), ny),
            Some(utc("2026-11-01T13:00:00Z"))
        );
        // 20:30 EDT on Oct 31 (00:30 UTC Nov 1): not quiet yet.
        assert_eq!(q.defer_until(utc("2026-11-01T00:30:00Z"), ny), None);
    }

    #[test]
    fn an_end_skipped_by_dst_is_the_first_instant_after_the_gap() {
        // Quiet until 02:30, which does not exist in New York on 2026-03-08: the clocks jump
        // from 02:00 EST (07:00 UTC) to 03:00 EDT, so the quiet hours end at 07:00 UTC.
        let q = QuietHours::parse("22:00", "02:30").expect("valid");
        let ny = tz("America/New_York");
        assert_eq!(
            q.defer_until(utc("2026-03-08T05:00:00Z"), ny),
            Some(utc("2026-03-08T07:00:00Z"))
        );
    }

    #[test]
    fn an_end_repeated_by_dst_is_the_next_one() {
        // Berlin falls back 2026-10-25 03:00 CEST -> 02:00 CET; 02:30 happens twice.
        let q = QuietHours::parse("01:00", "02:30").expect("valid");
        let berlin = tz("Europe/Berlin");
        // 01:30 CEST (23:30 UTC): the first 02:30 (CEST, 00:30 UTC).
        assert_eq!(
            q.defer_until(utc("2026-10-24T23:30:00Z"), berlin),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        // 02:10 CET (01:10 UTC), the second time round: the second 02:30 (CET, 01:30 UTC).
        assert_eq!(
            q.defer_until(utc("2026-10-25T01:10:00Z"), berlin),
            Some(utc("2026-10-25T01:30:00Z"))
        );
    }

    #[test]
    fn berlin_spring_forward() {
        // 2026-03-29 02:00 CET -> 03:00 CEST. At 23:00 CET on the 28th (22:00 UTC), quiet
        // until 08:00 CEST = 06:00 UTC.
        let q = night();
        assert_eq!(
            q.defer_until(utc("2026-03-28T22:00:00Z"), tz("Europe/Berlin")),
            Some(utc("2026-03-29T06:00:00Z"))
        );
    }

    #[test]
    fn unknown_zones_are_utc() {
        assert_eq!(parse_time_zone(""), Tz::UTC);
        assert_eq!(parse_time_zone("Mars/Olympus"), Tz::UTC);
        assert_eq!(parse_time_zone("Asia/Shanghai"), Tz::Asia__Shanghai);
    }

    #[test]
    fn variants_are_stable_and_shared_by_weight() {
        let campaign = Uuid::from_u128(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        let weights = [1, 2, 7];
        let mut counts = [0u32; 3];
        let n = 100_000u32;
        for i in 0..n {
            let customer = Uuid::from_u128(u128::from(i) * 0x9e37_79b9_7f4a_7c15 + 1);
            let v = assign_variant(campaign, customer, &weights);
            assert_eq!(v, assign_variant(campaign, customer, &weights), "stable");
            counts[v] += 1;
        }
        for (count, weight) in counts.iter().zip(weights) {
            let share = f64::from(*count) / f64::from(n);
            let want = f64::from(weight) / 10.0;
            assert!((share - want).abs() < 0.01, "{counts:?}");
        }
    }

    #[test]
    fn variants_differ_across_campaigns_and_skip_zero_weights() {
        let customer = Uuid::from_u128(42);
        let picks: Vec<usize> = (0..64u128)
            .map(|c| assign_variant(Uuid::from_u128(c), customer, &[1, 1]))
            .collect();
        assert!(picks.contains(&0) && picks.contains(&1), "{picks:?}");
        for c in 0..1000u128 {
            assert_eq!(assign_variant(Uuid::from_u128(c), customer, &[0, 3, 0]), 1);
        }
        assert_eq!(assign_variant(Uuid::nil(), customer, &[]), 0);
        assert_eq!(assign_variant(Uuid::nil(), customer, &[0, 0]), 0);
        // Pinned (computed independently from sha256 of the 32 id bytes): the assignment must
        // not change between releases, or a resumed campaign would switch recipients' variants.
        assert_eq!(
            assign_variant(Uuid::from_u128(1), Uuid::from_u128(2), &[1; 100]),
            47
        );
    }

    #[test]
    fn caps_by_channel() {
        let caps = vec![
            FrequencyCap {
                channel: "email".into(),
                max: 3,
                window_hours: 168,
            },
            FrequencyCap {
                channel: "email".into(),
                max: 1,
                window_hours: 24,
            },
            FrequencyCap {
                channel: "push".into(),
                max: 1,
                window_hours: 24,
            },
        ];
        assert_eq!(
            cap_for(&caps, Channel::Email),
            Some((3, Duration::hours(168)))
        );
        assert_eq!(caps_for(&caps, Channel::Email).count(), 2);
        assert_eq!(
            cap_for(&caps, Channel::Push),
            Some((1, Duration::hours(24)))
        );
        assert_eq!(cap_for(&caps, Channel::Sms), None);
    }
}
