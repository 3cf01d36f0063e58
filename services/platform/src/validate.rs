//! Request checks every adapter shares, so a value is accepted or refused the same way by
//! every service and on every backend: text (length, control and bidi characters),
//! timestamps (the protobuf range and business windows), bounded numbers and lists, and
//! ISO 4217 money. Each check records a field violation and never panics.
use crate::Violations;
use chrono::{DateTime, Duration, Utc};
use std::ops::RangeInclusive;

/// Earliest time a `google.protobuf.Timestamp` may hold: 0001-01-01T00:00:00Z.
pub const MIN_TIMESTAMP_SECONDS: i64 = -62_135_596_800;
/// Latest time a `google.protobuf.Timestamp` may hold: 9999-12-31T23:59:59Z.
pub const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_799;
/// How far in the future a "when it happened" time may be, for clocks that run ahead.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Bidi embedding, override and isolate controls: they reorder what a reader sees
/// ("Trojan Source"), so stored text never carries them. Marks (U+200E/F) are fine.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn bad_char(c: char, multiline: bool) -> bool {
    if multiline && matches!(c, '\n' | '\r' | '\t') {
        return false;
    }
    c.is_control() || is_bidi_control(c)
}

fn checked_text(
    field: &str,
    s: &str,
    max: usize,
    required: bool,
    multiline: bool,
    v: &mut Violations,
) -> String {
    let t = s.trim();
    if required && t.is_empty() {
        v.add(field, "is required");
    } else if t.len() > max.saturating_mul(4) || t.chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    } else if t.chars().any(|c| bad_char(c, multiline)) {
        let what = if multiline {
            "must not contain control characters other than tab and line breaks"
        } else {
            "must not contain control characters or line breaks"
        };
        v.add(field, what);
    }
    t.to_owned()
}

/// One line of text (a name, an id, a reason): trimmed, at most `max` characters, no control
/// characters (NUL, line breaks, tabs, ...) and no bidi controls; empty is a violation when
/// `required`.
pub fn text(field: &str, s: &str, max: usize, required: bool, v: &mut Violations) -> String {
    checked_text(field, s, max, required, false, v)
}

/// Free text (a description, a message body): like [`text`] but tabs and line breaks are kept.
pub fn multiline(field: &str, s: &str, max: usize, required: bool, v: &mut Violations) -> String {
    checked_text(field, s, max, required, true, v)
}

/// At most `max` entries in a repeated field.
pub fn max_items(field: &str, len: usize, max: usize, v: &mut Violations) -> bool {
    if len > max {
        v.add(field, format!("must have at most {max} entries"));
        false
    } else {
        true
    }
}

/// `n` within `range`, else a violation naming the range.
pub fn in_range(
    field: &str,
    n: i64,
    range: RangeInclusive<i64>,
    v: &mut Violations,
) -> Option<i64> {
    if range.contains(&n) {
        Some(n)
    } else {
        v.add(
            field,
            format!("must be between {} and {}", range.start(), range.end()),
        );
        None
    }
}

/// A timestamp within the range the protobuf spec allows (years 1 to 9999, nanos below 10^9).
pub fn timestamp(
    field: &str,
    t: &prost_types::Timestamp,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    let parsed = (MIN_TIMESTAMP_SECONDS..=MAX_TIMESTAMP_SECONDS)
        .contains(&t.seconds)
        .then(|| u32::try_from(t.nanos).ok().filter(|n| *n < 1_000_000_000))
        .flatten()
        .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos));
    if parsed.is_none() {
        v.add(
            field,
            "must be a valid timestamp between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z",
        );
    }
    parsed
}

/// An optional timestamp: `None` when unset, else checked like [`timestamp`].
pub fn opt_timestamp(
    field: &str,
    t: Option<&prost_types::Timestamp>,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    t.and_then(|t| timestamp(field, t, v))
}

/// A required timestamp.
pub fn required_timestamp(
    field: &str,
    t: Option<&prost_types::Timestamp>,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    match t {
        Some(t) => timestamp(field, t, v),
        None => {
            v.add(field, "is required");
            None
        }
    }
}

/// A time something happened: not later than `now` plus [`CLOCK_SKEW`].
pub fn not_in_future(
    field: &str,
    t: DateTime<Utc>,
    now: DateTime<Utc>,
    v: &mut Violations,
) -> bool {
    if t > now + CLOCK_SKEW {
        v.add(field, "must not be in the future");
        false
    } else {
        true
    }
}

/// A time to the wire (always in range: it came from the protobuf range or the clock).
pub fn to_timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// An ISO 4217 currency code (upper case, e.g. "CNY"); "ZZZ" and lower case are refused.
pub fn currency(field: &str, code: &str, v: &mut Violations) -> Option<iso_currency::Currency> {
    let found = iso_currency::Currency::from_code(code).filter(|c| c.exponent().is_some());
    if found.is_none() {
        v.add(
            field,
            "must be an ISO 4217 currency code such as CNY or EUR",
        );
    }
    found
}

/// An amount in minor units of `currency`: positive and at most `max_major` whole units
/// (e.g. 1,000,000,000 CNY is 100,000,000,000 fen), so sums of many amounts stay far from
/// `i64::MAX`.
pub fn amount_minor(
    field: &str,
    currency: iso_currency::Currency,
    amount_minor: i64,
    max_major: i64,
    v: &mut Violations,
) -> Option<i64> {
    let scale = 10_i64.checked_pow(u32::from(currency.exponent().unwrap_or(0)));
    let max = scale
        .and_then(|s| s.checked_mul(max_major))
        .unwrap_or(i64::MAX);
    in_range(field, amount_minor, 1..=max, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: &Violations) -> Vec<String> {
        v.iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn text_refuses_control_and_bidi_characters() {
        let mut v = Violations::new();
        assert_eq!(text("a", "  Li Wei ", 10, true, &mut v), "Li Wei");
        assert!(v.is_empty());
        for (i, bad) in [
            "a\0b",
            "a\nb",
            "a\u{7}b",
            "a\u{202E}b",
            "a\u{2066}b",
            "a\u{85}b",
        ]
        .iter()
        .enumerate()
        {
            text(&format!("f{i}"), bad, 10, false, &mut v);
        }
        assert_eq!(fields(&v), ["f0", "f1", "f2", "f3", "f4", "f5"]);
        let mut ok = Violations::new();
        text("rtl", "\u{200F}مرحبا", 10, true, &mut ok);
        assert!(ok.is_empty(), "marks are fine: {ok:?}");
    }

    #[test]
    fn multiline_keeps_line_breaks_but_not_nul() {
        let mut v = Violations::new();
        multiline("body", "line 1\r\n\tline 2", 100, true, &mut v);
        assert!(v.is_empty());
        multiline("body", "a\0", 100, true, &mut v);
        assert_eq!(fields(&v), ["body"]);
    }

    #[test]
    fn text_length_and_required() {
        let mut v = Violations::new();
        text("empty", "   ", 10, true, &mut v);
        text("long", &"é".repeat(11), 10, false, &mut v);
        text("huge", &"x".repeat(100_000), 10, false, &mut v);
        assert_eq!(fields(&v), ["empty", "long", "huge"]);
        let mut ok = Violations::new();
        text("ten", &"é".repeat(10), 10, true, &mut ok);
        assert!(ok.is_empty());
    }

    #[test]
    fn timestamps_within_the_protobuf_range() {
        let mut v = Violations::new();
        let at = |seconds, nanos| prost_types::Timestamp { seconds, nanos };
        assert!(timestamp("min", &at(MIN_TIMESTAMP_SECONDS, 0), &mut v).is_some());
        assert!(timestamp("max", &at(MAX_TIMESTAMP_SECONDS, 999_999_999), &mut v).is_some());
        assert!(v.is_empty());
        assert!(timestamp("year0", &at(MIN_TIMESTAMP_SECONDS - 1, 0), &mut v).is_none());
        assert!(timestamp("year10000", &at(MAX_TIMESTAMP_SECONDS + 1, 0), &mut v).is_none());
        assert!(timestamp("nanos", &at(0, -1), &mut v).is_none());
        assert!(timestamp("nanos2", &at(0, 1_000_000_000), &mut v).is_none());
        assert!(timestamp("huge", &at(i64::MAX, 0), &mut v).is_none());
        required_timestamp("missing", None, &mut v);
        assert_eq!(
            fields(&v),
            ["year0", "year10000", "nanos", "nanos2", "huge", "missing"]
        );
        let t = DateTime::from_timestamp(1_700_000_000, 5).expect("time");
        assert_eq!(
            timestamp("t", &to_timestamp(t), &mut Violations::new()),
            Some(t)
        );
    }

    #[test]
    fn future_times_beyond_the_skew_are_refused() {
        let now = Utc::now();
        let mut v = Violations::new();
        assert!(not_in_future("ok", now + Duration::minutes(4), now, &mut v));
        assert!(!not_in_future(
            "late",
            now + Duration::minutes(6),
            now,
            &mut v
        ));
        assert_eq!(fields(&v), ["late"]);
    }

    #[test]
    fn numbers_and_lists_are_bounded() {
        let mut v = Violations::new();
        assert_eq!(in_range("n", 5, 1..=10, &mut v), Some(5));
        assert_eq!(in_range("big", i64::MAX, 1..=10, &mut v), None);
        assert_eq!(in_range("neg", -1, 1..=10, &mut v), None);
        assert!(max_items("ok", 3, 3, &mut v));
        assert!(!max_items("many", 4, 3, &mut v));
        assert_eq!(fields(&v), ["big", "neg", "many"]);
    }

    #[test]
    fn currencies_and_amounts() {
        let mut v = Violations::new();
        let cny = currency("c", "CNY", &mut v).expect("CNY");
        let jpy = currency("c", "JPY", &mut v).expect("JPY");
        assert!(v.is_empty());
        for bad in ["ZZZ", "cny", "", "XXX", "CN"] {
            assert!(currency(bad, bad, &mut v).is_none(), "{bad}");
        }
        assert_eq!(v.iter().count(), 5);
        let mut v = Violations::new();
        assert_eq!(
            amount_minor("a", cny, 100_000, 1_000, &mut v),
            Some(100_000)
        );
        assert_eq!(amount_minor("b", cny, 100_001, 1_000, &mut v), None);
        assert_eq!(amount_minor("c", jpy, 1_000, 1_000, &mut v), Some(1_000));
        assert_eq!(amount_minor("d", jpy, 1_001, 1_000, &mut v), None);
        assert_eq!(amount_minor("e", cny, 0, 1_000, &mut v), None);
        assert_eq!(
            amount_minor("f", cny, i64::MAX, i64::MAX, &mut v),
            Some(i64::MAX)
        );
        assert_eq!(fields(&v), ["b", "d", "e"]);
    }
}
