//! Care journeys: a campaign whose schedule is a trigger. Customers enter when the trigger
//! fires for them, once per occasion (the occasion is part of the delivery's unique key), and
//! the message is due after the trigger's delay (a date's: at a local time of day in the
//! customer's zone). The campaign's segment is the journey's condition, checked when the
//! message is due. Variants can be tiered by loyalty tier (`variant_for`).
use super::campaign::Variant;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TriggerKind {
    Welcome,
    Date,
    WinBack,
    Purchase,
    Booking,
}

impl TriggerKind {
    pub const ALL: [TriggerKind; 5] = [
        Self::Welcome,
        Self::Date,
        Self::WinBack,
        Self::Purchase,
        Self::Booking,
    ];

    /// The `campaigns.trigger_kind` column.
    pub fn code(self) -> &'static str {
        match self {
            Self::Welcome => "welcome",
            Self::Date => "date",
            Self::WinBack => "win_back",
            Self::Purchase => "purchase",
            Self::Booking => "booking",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// The date kind of a birthday (the other kinds are the customer's important dates').
pub const BIRTHDAY: &str = "birthday";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub kind: TriggerKind,
    /// Date: "birthday" or an important date's kind.
    pub date_kind: String,
    /// Date: days before the date.
    pub days_before: u8,
    /// Date: the local time of day the message is due.
    pub time_of_day: NaiveTime,
    /// Win-back: days since the last purchase.
    pub inactive_days: u16,
    /// Welcome, purchase, booking: seconds after the event.
    pub delay_secs: u32,
}

/// Whether `s` is an occasion: 1 to 64 of a-z, 0-9, '-' and '_'.
pub fn is_occasion(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The occasion of a welcome.
pub const WELCOME: &str = "welcome";

/// The occasion of a purchase or booking follow-up: "order-<activity id, simple form>".
pub fn order_occasion(activity: uuid::Uuid) -> String {
    format!("order-{}", activity.simple())
}

/// The occasion of a win-back: once per lapse, named by the last purchase's UTC date.
pub fn win_back_occasion(last_purchase: DateTime<Utc>) -> String {
    format!("winback-{}", last_purchase.format("%Y%m%d"))
}

/// The variant of a recipient whose loyalty tier is `tier`: when any variant lists tiers,
/// the first listing `tier`, else the weighted pick `assigned` if it lists none, else the
/// first without tiers; without tiered variants, `assigned`. None when no variant fits
/// (every variant is for other tiers).
pub fn variant_for<'a>(variants: &'a [Variant], assigned: &str, tier: &str) -> Option<&'a Variant> {
    let assigned_one = || variants.iter().find(|v| v.id == assigned);
    if variants.iter().all(|v| v.tiers.is_empty()) {
        // A row with no variant of this campaign (none at all is refused at create time).
        return assigned_one().or_else(|| variants.first());
    }
    if let Some(v) = variants.iter().find(|v| v.tiers.iter().any(|t| t == tier)) {
        return Some(v);
    }
    assigned_one()
        .filter(|v| v.tiers.is_empty())
        .or_else(|| variants.iter().find(|v| v.tiers.is_empty()))
}

/// The weights an entry's variant is picked by: with tiered variants, only the untiered
/// ones share the recipients (a tiered one goes to its tiers at send time, `variant_for`).
pub fn entry_weights(variants: &[Variant]) -> Vec<u32> {
    let untiered = variants.iter().any(|v| v.tiers.is_empty());
    variants
        .iter()
        .map(|v| {
            if untiered && !v.tiers.is_empty() {
                0
            } else {
                v.weight
            }
        })
        .collect()
}

/// Events older than their trigger's delay plus this are replays (a read-model rebuild
/// replays the customers stream): they enter nobody.
pub const STALE_AFTER: Duration = Duration::days(7);

/// Whether an event at `event_time` is too old to enter a journey whose delay is
/// `delay_secs` (its message would be more than [`STALE_AFTER`] late).
pub fn is_stale(event_time: DateTime<Utc>, delay_secs: u32, now: DateTime<Utc>) -> bool {
    event_time + Duration::seconds(delay_secs.into()) + STALE_AFTER < now
}

/// When the message of an event-triggered entry is due.
pub fn delayed(event_time: DateTime<Utc>, delay_secs: u32) -> DateTime<Utc> {
    event_time + Duration::seconds(delay_secs.into())
}

/// The occasion of a date: "<date kind, '_' as '-'>-<year of the date>", e.g.
/// "wedding-anniversary-2026" (a kind is cut so the occasion stays within 64 characters;
/// one journey has one kind, so a cut never makes two occasions one).
pub fn date_occasion(date_kind: &str, date: NaiveDate) -> String {
    let year = date.year().to_string();
    let room = 64 - 1 - year.len();
    let kind: String = date_kind
        .chars()
        .take(room)
        .map(|c| if c == '_' { '-' } else { c })
        .collect();
    format!("{kind}-{year}")
}

/// When a date's message is due in `tz`: `days_before` days before `date`, at the local
/// `time` (a DST gap moves it an hour later, a repeated hour takes the first).
pub fn date_due(
    tz: chrono_tz::Tz,
    date: NaiveDate,
    days_before: u8,
    time: NaiveTime,
) -> DateTime<Utc> {
    let day = date - Duration::days(days_before.into());
    super::campaign::local_instant(tz, day.and_time(time))
}

/// A date the journey job looks for and the (month, day)s that fall on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anniversary {
    pub date: NaiveDate,
    /// (month, day): the date's own, and Feb 29 on Feb 28 in a year without one.
    pub month_days: Vec<(u32, u32)>,
}

/// The job looks at send days from yesterday (UTC) for zones behind UTC, and two days
/// ahead, so zones ahead of UTC (up to +14) are entered before their day begins.
const LOOK_BACK_DAYS: i64 = 1;
const LOOK_AHEAD_DAYS: i64 = 2;

/// The dates whose messages are due around `now`: those `days_before` days after each send
/// day from yesterday to two days ahead (UTC dates).
pub fn anniversaries(now: DateTime<Utc>, days_before: u8) -> Vec<Anniversary> {
    let today = now.date_naive();
    (-LOOK_BACK_DAYS..=LOOK_AHEAD_DAYS)
        .filter_map(|d| today.checked_add_signed(Duration::days(d + i64::from(days_before))))
        .map(|date| {
            let mut month_days = vec![(date.month(), date.day())];
            if date.month() == 2 && date.day() == 28 && !date.leap_year() {
                month_days.push((2, 29));
            }
            Anniversary { date, month_days }
        })
        .collect()
}

/// The most a date's message may be late (the job ran late, or the journey started after
/// the send time): later, the greeting is skipped rather than sent after the day.
pub const MAX_LATE: Duration = Duration::days(1);

/// The due time of an entry whose message was due at `due`: then, or now when that has
/// passed, or None when it is more than [`MAX_LATE`] ago.
pub fn entry_due(due: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if due + MAX_LATE < now {
        return None;
    }
    Some(due.max(now))
}

/// When a delivery entered its journey: its id is a UUIDv7, stamped at the insert.
pub fn entered_at(delivery: uuid::Uuid) -> Option<DateTime<Utc>> {
    let (secs, nanos) = delivery.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Asia, Europe, Pacific};

    fn variant(id: &str, tiers: &[&str]) -> Variant {
        Variant {
            id: id.into(),
            weight: 1,
            subject: String::new(),
            body: "x".into(),
            tiers: tiers.iter().map(|t| (*t).to_owned()).collect(),
            coupon_pool: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn nine() -> NaiveTime {
        NaiveTime::from_hms_opt(9, 0, 0).expect("time")
    }

    #[test]
    fn tiered_variants_go_to_their_tiers_and_the_rest_get_the_untiered_one() {
        // The seed: a gift offer for gold, a coupon for silver, a greeting for the rest.
        let vs = [
            variant("gift", &["gold"]),
            variant("coupon", &["silver"]),
            variant("greeting", &[]),
        ];
        let id = |tier: &str, assigned: &str| variant_for(&vs, assigned, tier).map(|v| &*v.id);
        assert_eq!(id("gold", "greeting"), Some("gift"));
        assert_eq!(id("silver", "greeting"), Some("coupon"));
        assert_eq!(id("bronze", "greeting"), Some("greeting"));
        assert_eq!(id("", "greeting"), Some("greeting"), "no tier yet");
        // An assigned tiered variant (a one-off campaign picks among all) is not for others.
        assert_eq!(id("bronze", "gift"), Some("greeting"));
        let both = [
            variant("gift", &["gold", "platinum"]),
            variant("g2", &["platinum"]),
        ];
        assert_eq!(
            variant_for(&both, "gift", "platinum").map(|v| &*v.id),
            Some("gift"),
            "the first listing the tier"
        );
    }

    #[test]
    fn without_a_fitting_variant_there_is_none_and_untiered_campaigns_keep_the_pick() {
        let tiered = [variant("gift", &["gold"]), variant("coupon", &["silver"])];
        assert_eq!(variant_for(&tiered, "gift", "bronze"), None);
        assert_eq!(variant_for(&tiered, "gift", ""), None);
        let plain = [variant("a", &[]), variant("b", &[])];
        assert_eq!(variant_for(&plain, "b", "gold").map(|v| &*v.id), Some("b"));
        assert_eq!(
            variant_for(&plain, "", "gold").map(|v| &*v.id),
            Some("a"),
            "a row without a variant of this campaign takes the first"
        );
        let two_greetings = [
            variant("gift", &["gold"]),
            variant("hi", &[]),
            variant("hey", &[]),
        ];
        assert_eq!(
            variant_for(&two_greetings, "hey", "silver").map(|v| &*v.id),
            Some("hey"),
            "the weighted pick among the untiered"
        );
        assert_eq!(entry_weights(&two_greetings), [0, 1, 1]);
        assert_eq!(
            entry_weights(&tiered),
            [1, 1],
            "all tiered: the weights as they are"
        );
    }

    #[test]
    fn a_date_is_due_at_its_local_time_in_each_zone() {
        let d = date("2026-12-24");
        let due = |tz| date_due(tz, d, 0, nine()).to_rfc3339();
        assert_eq!(due(America::New_York), "2026-12-24T14:00:00+00:00"); // EST, UTC-5
        assert_eq!(due(Europe::Berlin), "2026-12-24T08:00:00+00:00"); // CET, UTC+1
        assert_eq!(due(Asia::Shanghai), "2026-12-24T01:00:00+00:00"); // UTC+8
        assert_eq!(due(Pacific::Kiritimati), "2026-12-23T19:00:00+00:00"); // UTC+14
        // Summer time: New York UTC-4, Berlin UTC+2.
        let summer = date("2026-07-04");
        let due = |tz| date_due(tz, summer, 0, nine()).to_rfc3339();
        assert_eq!(due(America::New_York), "2026-07-04T13:00:00+00:00");
        assert_eq!(due(Europe::Berlin), "2026-07-04T07:00:00+00:00");
        // Days before, across a new year: the occasion is the date's year.
        let jan5 = date("2027-01-05");
        assert_eq!(
            date_due(Asia::Shanghai, jan5, 10, nine()).to_rfc3339(),
            "2026-12-26T01:00:00+00:00"
        );
        assert_eq!(date_occasion(BIRTHDAY, jan5), "birthday-2027");
    }

    #[test]
    fn dst_days_move_a_skipped_time_later_and_take_a_repeated_one_first() {
        let half_two = NaiveTime::from_hms_opt(2, 30, 0).expect("time");
        // Berlin springs forward 2026-03-29 02:00 -> 03:00: 02:30 is 03:30 CEST (UTC+2).
        let gap = date_due(Europe::Berlin, date("2026-03-29"), 0, half_two);
        assert_eq!(gap.to_rfc3339(), "2026-03-29T01:30:00+00:00");
        // New York springs forward 2026-03-08: 02:30 is 03:30 EDT (UTC-4).
        let gap = date_due(America::New_York, date("2026-03-08"), 0, half_two);
        assert_eq!(gap.to_rfc3339(), "2026-03-08T07:30:00+00:00");
        // Berlin falls back 2026-10-25 03:00 -> 02:00: the first 02:30 is CEST.
        let twice = date_due(Europe::Berlin, date("2026-10-25"), 0, half_two);
        assert_eq!(twice.to_rfc3339(), "2026-10-25T00:30:00+00:00");
        // Two days before the fall-back day, 09:00 is still CEST; on the day, CET.
        let before = date_due(Europe::Berlin, date("2026-10-27"), 2, nine());
        assert_eq!(before.to_rfc3339(), "2026-10-25T08:00:00+00:00");
        let on = date_due(Europe::Berlin, date("2026-10-24"), 0, nine());
        assert_eq!(on.to_rfc3339(), "2026-10-24T07:00:00+00:00");
    }

    #[test]
    fn the_job_looks_from_yesterday_to_two_days_ahead_and_feb_29_falls_on_feb_28() {
        let dates = |now: &str, before| -> Vec<String> {
            anniversaries(at(now), before)
                .iter()
                .map(|a| {
                    let mds: Vec<String> = a
                        .month_days
                        .iter()
                        .map(|(m, d)| format!("{m}/{d}"))
                        .collect();
                    format!("{} {}", a.date, mds.join(","))
                })
                .collect()
        };
        assert_eq!(
            dates("2027-02-27T10:00:00Z", 0),
            [
                "2027-02-26 2/26",
                "2027-02-27 2/27",
                "2027-02-28 2/28,2/29",
                "2027-03-01 3/1"
            ]
        );
        // 2028 has a Feb 29 of its own.
        assert_eq!(
            dates("2028-02-28T10:00:00Z", 0),
            [
                "2028-02-27 2/27",
                "2028-02-28 2/28",
                "2028-02-29 2/29",
                "2028-03-01 3/1"
            ]
        );
        // Three days before, at the turn of the year.
        assert_eq!(
            dates("2026-12-30T10:00:00Z", 3),
            [
                "2027-01-01 1/1",
                "2027-01-02 1/2",
                "2027-01-03 1/3",
                "2027-01-04 1/4"
            ]
        );
        // A Feb 29 birthday in 2027 is due on Feb 28, in its zone.
        let feb28 = date("2027-02-28");
        assert_eq!(
            date_due(Asia::Shanghai, feb28, 0, nine()).to_rfc3339(),
            "2027-02-28T01:00:00+00:00"
        );
        assert_eq!(date_occasion(BIRTHDAY, feb28), "birthday-2027");
    }

    #[test]
    fn a_late_entry_is_due_now_unless_a_day_late() {
        // 20:00 UTC on Dec 23 is 10:00 on Dec 24 in Kiritimati: its 09:00 has just passed.
        let now = at("2026-12-23T20:00:00Z");
        let d = date("2026-12-24");
        let kiritimati = date_due(Pacific::Kiritimati, d, 0, nine());
        assert_eq!(entry_due(kiritimati, now), Some(now), "an hour late: now");
        let ny = date_due(America::New_York, d, 0, nine());
        assert_eq!(entry_due(ny, now), Some(ny), "ahead: at its time");
        let yesterday = date_due(Pacific::Kiritimati, date("2026-12-23"), 0, nine());
        assert_eq!(entry_due(yesterday, now), None, "25 hours late: skipped");
        assert_eq!(
            entry_due(now - MAX_LATE, now),
            Some(now),
            "a day late exactly"
        );
    }

    #[test]
    fn occasions_are_valid_and_replays_are_stale() {
        let long = "a_very_long_important_date_kind_that_is_sixty_four_characters_ab";
        assert_eq!(long.len(), 64);
        let o = date_occasion(long, date("2026-05-01"));
        assert!(is_occasion(&o), "{o}");
        assert!(o.ends_with("-2026") && o.starts_with("a-very-long"), "{o}");
        assert_eq!(
            date_occasion("wedding_anniversary", date("2026-05-01")),
            "wedding-anniversary-2026"
        );
        assert!(is_occasion(&order_occasion(uuid::Uuid::now_v7())));
        let last = at("2026-09-01T23:30:00Z");
        assert_eq!(win_back_occasion(last), "winback-20260901");
        let now = at("2026-12-10T00:00:00Z");
        assert!(!is_stale(now - Duration::days(7), 0, now));
        assert!(is_stale(now - Duration::days(8), 0, now));
        assert!(
            !is_stale(now - Duration::days(8), 86_400 * 2, now),
            "a long delay"
        );
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, 1_796_000_000, 0);
        let entered = entered_at(uuid::Uuid::new_v7(ts)).expect("v7");
        assert_eq!(entered.timestamp(), 1_796_000_000);
        assert_eq!(entered_at(uuid::Uuid::new_v4()), None);
    }
}
