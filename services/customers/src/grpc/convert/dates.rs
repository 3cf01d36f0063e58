//! Calendar dates: the birth date and important dates of a profile.
use super::{bounded, max_chars};
use crate::domain::ImportantDate;
use crate::settings::InputLimits;
use chrono::{DateTime, NaiveDate, Utc};
use crm_platform::Violations;
use crm_platform::validate::text;
use crm_proto::common as cpb;
use crm_proto::customers as pb;

/// The earliest birth date accepted.
const EARLIEST_BIRTH_DATE: Option<NaiveDate> = NaiveDate::from_ymd_opt(1900, 1, 1);
/// Important dates (anniversaries, planned events) lie in these years.
const DATE_YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

/// A birth date between 1900-01-01 and today (`now`), when one is sent.
pub(super) fn birth_date(
    d: Option<&cpb::Date>,
    now: DateTime<Utc>,
    v: &mut Violations,
) -> Option<NaiveDate> {
    let earliest = EARLIEST_BIRTH_DATE.unwrap_or(NaiveDate::MIN);
    match date_from(d?, "birth_date", 1..=9999, v) {
        Some(d) if d > now.date_naive() => v.add("birth_date", "must not be in the future"),
        Some(d) if d < earliest => v.add("birth_date", "must not be before 1900-01-01"),
        Some(d) => return Some(d),
        None => {}
    }
    None
}

/// Named dates (a wedding, a planned event), within the settings' count.
pub(super) fn important_dates(
    dates: &[pb::ImportantDate],
    limits: &InputLimits,
    v: &mut Violations,
) -> Vec<ImportantDate> {
    let mut out = Vec::new();
    let dates = bounded("important_dates", dates, limits.max_important_dates, v);
    for (i, d) in dates.iter().enumerate() {
        let f = format!("important_dates[{i}]");
        let kind = text(&format!("{f}.kind"), &d.kind, max_chars::DATE_KIND, true, v);
        let date = match &d.date {
            Some(date) => date_from(date, &format!("{f}.date"), DATE_YEARS, v),
            None => {
                v.add(format!("{f}.date"), "is required");
                None
            }
        };
        if let Some(date) = date {
            out.push(ImportantDate { kind, date });
        }
    }
    out
}

/// A calendar date: a real day (no 31 April) in a year of `years`.
fn date_from(
    d: &cpb::Date,
    field: &str,
    years: std::ops::RangeInclusive<i32>,
    v: &mut Violations,
) -> Option<NaiveDate> {
    let parsed = years
        .contains(&d.year)
        .then(|| {
            NaiveDate::from_ymd_opt(
                d.year,
                u32::try_from(d.month).ok()?,
                u32::try_from(d.day).ok()?,
            )
        })
        .flatten();
    if parsed.is_none() {
        v.add(
            field,
            format!(
                "must be a valid calendar date with year {}..{}, month and day",
                years.start(),
                years.end()
            ),
        );
    }
    parsed
}

pub(super) fn date(d: NaiveDate) -> cpb::Date {
    use chrono::Datelike;
    cpb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

pub(super) fn important_date(d: &ImportantDate) -> pb::ImportantDate {
    pb::ImportantDate {
        kind: d.kind.clone(),
        date: Some(date(d.date)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{date, profile_violations};
    use super::*;

    #[test]
    fn dates_are_real_days_in_range() {
        let c = pb::Customer {
            birth_date: date(1899, 12, 31),
            important_dates: vec![
                pb::ImportantDate {
                    kind: "a".into(),
                    date: date(2023, 2, 29),
                },
                pb::ImportantDate {
                    kind: "b".into(),
                    date: date(10_000, 1, 1),
                },
                pb::ImportantDate {
                    kind: "c".into(),
                    date: None,
                },
                pb::ImportantDate {
                    kind: "d".into(),
                    date: date(2024, 2, 29),
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            profile_violations(&c),
            [
                "birth_date",
                "important_dates[0].date",
                "important_dates[1].date",
                "important_dates[2].date",
            ]
        );
        let tomorrow = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
        use chrono::Datelike;
        let future = pb::Customer {
            birth_date: date(
                tomorrow.year(),
                tomorrow.month() as i32,
                tomorrow.day() as i32,
            ),
            ..Default::default()
        };
        assert_eq!(profile_violations(&future), ["birth_date"]);
        let fine = pb::Customer {
            birth_date: date(1900, 1, 1),
            ..Default::default()
        };
        assert!(profile_violations(&fine).is_empty());
    }
}
