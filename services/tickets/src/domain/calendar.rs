//! Business-hours calendars: a time zone, opening hours per weekday and holidays. SLA targets
//! are measured in business time on one of these.
use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;

/// Minutes of a day: 0..=1440 (1440 is the next midnight).
pub type Minutes = u32;

/// Longest search for business time; a calendar is validated to have weekly hours, so this
/// only bounds the holidays a target can skip.
const MAX_DAYS: i64 = 3660;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub tz: Tz,
    /// Monday first: the open interval [open, close) in local minutes, or closed.
    pub week: [Option<(Minutes, Minutes)>; 7],
    pub holidays: BTreeSet<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    #[error("{0:?} is not HH:MM-HH:MM with open before close (24:00 allowed)")]
    Hours(String),
    #[error("{0:?} is not a YYYY-MM-DD date")]
    Holiday(String),
    #[error("has no business hours in the week")]
    Empty,
}

/// "09:00-18:00" -> (540, 1080).
pub fn parse_hours(s: &str) -> Result<(Minutes, Minutes), CalendarError> {
    let bad = || CalendarError::Hours(s.to_owned());
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let m = |t: &str| -> Option<Minutes> {
        let (h, mi) = t.trim().split_once(':')?;
        let (h, mi): (u32, u32) = (h.parse().ok()?, mi.parse().ok()?);
        (mi < 60 && (h < 24 || (h == 24 && mi == 0))).then_some(h * 60 + mi)
    };
    let (o, c) = (m(a).ok_or_else(bad)?, m(b).ok_or_else(bad)?);
    if o < c { Ok((o, c)) } else { Err(bad()) }
}

impl Calendar {
    /// `week[i]` as "HH:MM-HH:MM" or "" (closed), Monday first.
    pub fn parse(tz: &str, week: &[String; 7], holidays: &[String]) -> Result<Self, CalendarError> {
        let tz: Tz = tz
            .parse()
            .map_err(|_| CalendarError::TimeZone(tz.to_owned()))?;
        let mut w = [None; 7];
        for (i, h) in week.iter().enumerate() {
            if !h.trim().is_empty() {
                w[i] = Some(parse_hours(h)?);
            }
        }
        if w.iter().all(Option::is_none) {
            return Err(CalendarError::Empty);
        }
        let holidays = holidays
            .iter()
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| CalendarError::Holiday(d.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            tz,
            week: w,
            holidays,
        })
    }

    /// Round the clock, every day, in UTC.
    pub fn always() -> Self {
        Self {
            tz: Tz::UTC,
            week: [Some((0, 1440)); 7],
            holidays: BTreeSet::new(),
        }
    }

    /// The instant of local `minutes` on `date`; in a DST gap, the first instant after it;
    /// when ambiguous, the earlier.
    fn instant(&self, date: NaiveDate, minutes: Minutes) -> DateTime<Utc> {
        let mut local = date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minutes));
        for _ in 0..16 {
            match self.tz.from_local_datetime(&local) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    return t.with_timezone(&Utc);
                }
                LocalResult::None => local += Duration::minutes(15),
            }
        }
        Utc.from_utc_datetime(&local)
    }

    /// The business window of a local date, as UTC instants.
    fn window(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&date) {
            return None;
        }
        let (o, c) = self.week[date.weekday().num_days_from_monday() as usize]?;
        let (a, b) = (self.instant(date, o), self.instant(date, c));
        (a < b).then_some((a, b))
    }

    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    /// Business seconds in [from, to) (0 when `to` is not after `from`).
    pub fn business_seconds(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        let mut d = self.local_date(from) - Duration::days(1);
        let last = self.local_date(to);
        while d <= last {
            if let Some((a, b)) = self.window(d) {
                let (s, e) = (a.max(from), b.min(to));
                if s < e {
                    total += (e - s).num_seconds();
                }
            }
            d += Duration::days(1);
        }
        total
    }

    /// The instant `secs` business seconds after `from` (`from` itself for secs <= 0).
    pub fn add(&self, from: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
        if secs <= 0 {
            return from;
        }
        let mut rem = secs;
        let mut d = self.local_date(from) - Duration::days(1);
        for _ in 0..MAX_DAYS {
            if let Some((a, b)) = self.window(d) {
                let s = a.max(from);
                if s < b {
                    let avail = (b - s).num_seconds();
                    if rem <= avail {
                        return s + Duration::seconds(rem);
                    }
                    rem -= avail;
                }
            }
            d += Duration::days(1);
        }
        from + Duration::days(MAX_DAYS)
    }

    /// The end of the business day `t` falls in, or of the next business day when `t` is
    /// after hours ("answer the same business day").
    pub fn end_of_business_day(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let mut d = self.local_date(t) - Duration::days(1);
        for _ in 0..MAX_DAYS {
            if let Some((_, b)) = self.window(d)
                && t < b
            {
                return b;
            }
            d += Duration::days(1);
        }
        t + Duration::days(MAX_DAYS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn office(tz: &str, holidays: &[&str]) -> Calendar {
        let day = "09:00-18:00".to_owned();
        let week = [
            day.clone(),
            day.clone(),
            day.clone(),
            day.clone(),
            day,
            String::new(),
            String::new(),
        ];
        let h: Vec<String> = holidays.iter().map(|s| (*s).to_owned()).collect();
        Calendar::parse(tz, &week, &h).expect("valid calendar")
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    #[test]
    fn parse_rejects_nonsense() {
        assert_eq!(parse_hours("09:00-18:00"), Ok((540, 1080)));
        assert_eq!(parse_hours("00:00-24:00"), Ok((0, 1440)));
        assert!(parse_hours("18:00-09:00").is_err());
        assert!(parse_hours("25:00-26:00").is_err());
        let closed: [String; 7] = Default::default();
        assert_eq!(
            Calendar::parse("UTC", &closed, &[]),
            Err(CalendarError::Empty)
        );
        assert!(matches!(
            Calendar::parse("Mars/Olympus", &closed, &[]),
            Err(CalendarError::TimeZone(_))
        ));
    }

    #[test]
    fn weekend_and_evening_are_skipped() {
        // Friday 2026-11-27 17:00 Shanghai (09:00 UTC) + 2 business hours -> Monday 10:00.
        let c = office("Asia/Shanghai", &[]);
        let due = c.add(utc("2026-11-27T09:00:00Z"), 2 * 3600);
        assert_eq!(due, utc("2026-11-30T02:00:00Z"));
        assert_eq!(c.business_seconds(utc("2026-11-27T09:00:00Z"), due), 7200);
        // After hours: the same-day target is the end of the next business day.
        assert_eq!(
            c.end_of_business_day(utc("2026-11-27T12:00:00Z")),
            utc("2026-11-30T10:00:00Z")
        );
        assert_eq!(
            c.end_of_business_day(utc("2026-11-26T02:00:00Z")),
            utc("2026-11-26T10:00:00Z")
        );
    }

    #[test]
    fn holidays_are_closed() {
        let c = office("Asia/Shanghai", &["2026-11-30"]);
        let due = c.add(utc("2026-11-27T09:00:00Z"), 2 * 3600);
        assert_eq!(due, utc("2026-12-01T02:00:00Z"));
    }

    #[test]
    fn dst_day_is_shorter_in_utc_terms_but_not_in_business_time() {
        // Europe/Berlin springs forward on Sunday 2026-03-29; with a 24/7 local calendar that
        // day has 23 real hours.
        let full = "00:00-24:00".to_owned();
        let week: [String; 7] = std::array::from_fn(|_| full.clone());
        let c = Calendar::parse("Europe/Berlin", &week, &[]).expect("valid");
        let start = utc("2026-03-28T23:00:00Z"); // local midnight
        let end = utc("2026-03-29T22:00:00Z"); // next local midnight
        assert_eq!(c.business_seconds(start, end), 23 * 3600);
    }

    fn zones() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just("UTC"),
            Just("Asia/Shanghai"),
            Just("Europe/Berlin"),
            Just("America/New_York"),
            Just("Australia/Sydney"),
        ]
    }

    fn calendars() -> impl Strategy<Value = Calendar> {
        (
            zones(),
            proptest::collection::vec(proptest::option::weighted(0.7, (0u32..24, 1u32..=24)), 7),
            proptest::collection::vec(0i64..120, 0..6),
        )
            .prop_filter_map("needs business hours", |(tz, days, hol)| {
                let week: [String; 7] = std::array::from_fn(|i| match days[i] {
                    Some((o, len)) => {
                        let c = (o + len).min(24);
                        if c <= o {
                            String::new()
                        } else {
                            format!("{o:02}:00-{c:02}:00")
                        }
                    }
                    None => String::new(),
                });
                let base = NaiveDate::from_ymd_opt(2026, 1, 1)?;
                let h: Vec<String> = hol
                    .iter()
                    .map(|d| (base + Duration::days(*d)).format("%Y-%m-%d").to_string())
                    .collect();
                Calendar::parse(tz, &week, &h).ok()
            })
    }

    fn instants() -> impl Strategy<Value = DateTime<Utc>> {
        // 2026-01-01 .. about 2026-05-01: covers both spring DST switches.
        (1_767_225_600i64..1_777_593_600)
            .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap_or_default())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Adding business time and measuring it back gives the same amount.
        #[test]
        fn add_then_measure(c in calendars(), from in instants(), secs in 0i64..(40 * 3600)) {
            let due = c.add(from, secs);
            prop_assert!(due >= from);
            prop_assert_eq!(c.business_seconds(from, due), secs);
        }

        /// Business time is additive over adjacent intervals and never exceeds wall time.
        #[test]
        fn additive_and_bounded(c in calendars(), a in instants(), d1 in 0i64..400_000, d2 in 0i64..400_000) {
            let b = a + Duration::seconds(d1);
            let e = b + Duration::seconds(d2);
            prop_assert_eq!(c.business_seconds(a, b) + c.business_seconds(b, e), c.business_seconds(a, e));
            prop_assert!(c.business_seconds(a, e) <= d1 + d2);
        }

        /// A holiday adds no business time: a calendar with one more holiday never counts more.
        #[test]
        fn holidays_only_remove_time(c in calendars(), a in instants(), d in 0i64..1_000_000, day in 0i64..120) {
            let mut more = c.clone();
            let hol = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default() + Duration::days(day);
            more.holidays.insert(hol);
            let e = a + Duration::seconds(d);
            prop_assert!(more.business_seconds(a, e) <= c.business_seconds(a, e));
            // And the holiday itself counts nothing.
            let start = more.instant(hol, 0);
            let end = more.instant(hol + Duration::days(1), 0);
            prop_assert_eq!(more.business_seconds(start, end), 0);
        }

        /// The end of the business day is at or after `t`, and business time runs right up to it.
        #[test]
        fn end_of_day_is_reachable(c in calendars(), t in instants()) {
            let e = c.end_of_business_day(t);
            prop_assert!(e > t);
            prop_assert!(c.business_seconds(t, e) > 0);
        }
    }
}
