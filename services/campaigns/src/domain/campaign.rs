//! A campaign: audience, channel, content per variant, schedule, and its lifecycle, a status
//! machine like tickets' (every move not in [`State::after`] is refused with the reason
//! INVALID_CAMPAIGN_TRANSITION). Deliveries' states and their forward-only receipts are here
//! too.
use super::{CampaignId, SegmentId};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Bounds of a campaign (`[campaigns.limits]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignLimits {
    pub max_display_name_chars: usize,
    pub max_variants: usize,
    pub max_subject_chars: usize,
    pub max_body_chars: usize,
    pub max_exclusion_segments: usize,
    pub max_coupon_code_chars: usize,
    pub max_holdout_percent: u8,
    pub default_throttle_per_second: u32,
    pub max_throttle_per_second: u32,
}

impl CampaignLimits {
    pub fn validate(&self, at: &str, p: &mut Vec<String>) {
        use crate::settings::bounded;
        bounded(
            p,
            &format!("{at}.max_display_name_chars"),
            self.max_display_name_chars as u64,
            10_000,
        );
        bounded(
            p,
            &format!("{at}.max_variants"),
            self.max_variants as u64,
            26,
        );
        bounded(
            p,
            &format!("{at}.max_subject_chars"),
            self.max_subject_chars as u64,
            10_000,
        );
        bounded(
            p,
            &format!("{at}.max_body_chars"),
            self.max_body_chars as u64,
            1_000_000,
        );
        bounded(
            p,
            &format!("{at}.max_exclusion_segments"),
            self.max_exclusion_segments as u64,
            100,
        );
        bounded(
            p,
            &format!("{at}.max_coupon_code_chars"),
            self.max_coupon_code_chars as u64,
            1000,
        );
        if self.max_holdout_percent > 50 {
            p.push(format!("{at}.max_holdout_percent must be 0..=50"));
        }
        bounded(
            p,
            &format!("{at}.max_throttle_per_second"),
            self.max_throttle_per_second.into(),
            1_000_000,
        );
        if self.default_throttle_per_second == 0
            || self.default_throttle_per_second > self.max_throttle_per_second
        {
            p.push(format!(
                "{at}.default_throttle_per_second must be 1..=max_throttle_per_second"
            ));
        }
    }
}

/// Where a campaign's messages go (crm.campaigns.v1.Channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Channel {
    Email,
    Sms,
    Push,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Self::Email, Self::Sms, Self::Push, Self::Webhook];

    pub fn code(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Push => "push",
            Self::Webhook => "webhook",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The crm.campaigns.v1.Channel number.
    pub fn number(self) -> i32 {
        match self {
            Self::Email => 1,
            Self::Sms => 2,
            Self::Push => 3,
            Self::Webhook => 4,
        }
    }

    pub fn from_number(n: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.number() == n)
    }

    /// The crm.customers.v1.Channel whose consent a send needs. A webhook goes to the
    /// operator's own system, which decides with its own consent records: none.
    pub fn consent_channel(self) -> Option<i32> {
        match self {
            Self::Email => Some(1),
            Self::Sms => Some(2),
            Self::Push => Some(3),
            Self::Webhook => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GoalKind {
    Purchase,
    Booking,
    Click,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    pub kind: GoalKind,
    pub window_days: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub id: String,
    pub weight: u32,
    pub subject: String,
    pub body: String,
    /// Loyalty tiers this variant is for (domain::journey::variant_for).
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Each recipient gets their own code from this pool as `coupon_code`.
    #[serde(default)]
    pub coupon_pool: Option<super::CouponPoolId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Schedule {
    Immediately,
    At(DateTime<Utc>),
    /// A wall-clock time on a date in each recipient's time zone.
    Local {
        date: NaiveDate,
        time: NaiveTime,
    },
    /// A care journey: customers enter when the trigger fires for them (domain::journey).
    Trigger(super::journey::Trigger),
}

/// The earliest and latest UTC offsets in use (Pacific/Kiritimati +14, Etc/GMT+12 -12).
const EARLIEST_OFFSET_HOURS: i64 = 14;

impl Schedule {
    /// When the audience is chosen: the schedule's time, or for a local schedule the moment
    /// it is that time somewhere (UTC+14), so no recipient's local time has passed.
    pub fn start_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Immediately | Self::Trigger(_) => now,
            Self::At(t) => *t,
            Self::Local { date, time } => {
                date.and_time(*time).and_utc() - Duration::hours(EARLIEST_OFFSET_HOURS)
            }
        }
    }

    /// When one recipient in `tz` is due: the start, or the local wall-clock time in `tz`
    /// (an ambiguous time, at a DST fall-back, is its first occurrence; a time skipped by a
    /// spring-forward is moved one hour later).
    pub fn due_for(&self, start: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
        match self {
            Self::Immediately | Self::At(_) | Self::Trigger(_) => start,
            Self::Local { date, time } => local_instant(tz, date.and_time(*time)).max(start),
        }
    }
}

impl Schedule {
    /// When the last recipient anywhere is due: the start, or for a local schedule the
    /// moment it is that time in the westernmost zone (UTC-12). A recipient waiting for its
    /// profile counts its wait from here, so a local schedule does not skip it early.
    pub fn latest_due(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Immediately | Self::At(_) | Self::Trigger(_) => start,
            Self::Local { date, time } => {
                (date.and_time(*time).and_utc() + Duration::hours(LATEST_OFFSET_HOURS)).max(start)
            }
        }
    }
}

/// The latest UTC offset in use, in hours west (Etc/GMT+12).
const LATEST_OFFSET_HOURS: i64 = 12;

/// The instant of wall-clock `at` in `tz`: the first of two at a fall-back, an hour later
/// when a spring-forward skips it.
pub fn local_instant(tz: chrono_tz::Tz, at: chrono::NaiveDateTime) -> DateTime<Utc> {
    use chrono::LocalResult;
    match tz.from_local_datetime(&at) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        LocalResult::None => local_instant(tz, at + Duration::hours(1)),
    }
}

/// What a campaign is, apart from its lifecycle: stored as columns (the ones queried) and
/// `spec` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignFields {
    pub display_name: String,
    pub segment: SegmentId,
    pub channel: Channel,
    pub transactional: bool,
    pub throttle_per_second: u32,
    pub spec: Spec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub goal: Goal,
    pub exclusions: Vec<SegmentId>,
    pub variants: Vec<Variant>,
    pub schedule: Schedule,
    pub coupon_code: String,
    /// Test then winner (domain::experiment).
    #[serde(default)]
    pub experiment: Option<super::experiment::Experiment>,
    /// Percent of the audience held out as the control group, 0 to 50.
    #[serde(default)]
    pub holdout_percent: u8,
}

impl CampaignFields {
    /// The journey's trigger, when the campaign is one.
    pub fn trigger(&self) -> Option<&super::journey::Trigger> {
        match &self.spec.schedule {
            Schedule::Trigger(t) => Some(t),
            _ => None,
        }
    }
}

/// Fields an update mask may name.
pub const UPDATABLE_FIELDS: &[&str] = &[
    "display_name",
    "goal",
    "segment",
    "exclusion_segments",
    "channel",
    "variants",
    "schedule",
    "transactional",
    "throttle_per_second",
    "coupon_code",
    "experiment",
    "holdout_percent",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    Draft,
    Scheduled,
    Running,
    Paused,
    Completed,
    Cancelled,
}

/// A requested lifecycle move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Schedule,
    Start,
    Pause,
    Resume,
    Complete,
    Cancel,
}

impl Action {
    pub fn verb(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Start => "start",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Complete => "complete",
            Self::Cancel => "cancel",
        }
    }
}

impl State {
    pub const ALL: [State; 6] = [
        Self::Draft,
        Self::Scheduled,
        Self::Running,
        Self::Paused,
        Self::Completed,
        Self::Cancelled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The crm.campaigns.v1.Campaign.State number.
    pub fn number(self) -> i32 {
        match self {
            Self::Draft => 1,
            Self::Scheduled => 2,
            Self::Running => 3,
            Self::Paused => 4,
            Self::Completed => 5,
            Self::Cancelled => 6,
        }
    }

    pub fn from_number(n: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.number() == n)
    }

    pub fn is_ended(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }

    /// The state after `action`, or None when the move is not allowed from here.
    pub fn after(self, action: Action) -> Option<State> {
        use Action as A;
        use State as S;
        Some(match (self, action) {
            (S::Draft, A::Schedule) => S::Scheduled,
            (S::Scheduled, A::Start) => S::Running,
            (S::Running, A::Pause) => S::Paused,
            (S::Paused, A::Resume) => S::Running,
            (S::Running, A::Complete) => S::Completed,
            (S::Draft | S::Scheduled | S::Running | S::Paused, A::Cancel) => S::Cancelled,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub fields: CampaignFields,
    pub state: State,
    pub revision: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub start_at: Option<DateTime<Utc>>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub audience_done: bool,
    /// The experiment's winner and when it was chosen.
    pub winner: Option<(String, DateTime<Utc>)>,
}

impl Campaign {
    pub fn new(fields: CampaignFields, now: DateTime<Utc>) -> Self {
        Self {
            id: CampaignId::generate(),
            fields,
            state: State::Draft,
            revision: 1,
            create_time: now,
            update_time: now,
            start_at: None,
            start_time: None,
            end_time: None,
            audience_done: false,
            winner: None,
        }
    }

    /// This draft with the fields `mask` names taken from `patch`.
    pub fn updated(
        &self,
        patch: CampaignFields,
        mask: &crm_platform::field_mask::UpdateMask,
        now: DateTime<Utc>,
    ) -> Campaign {
        let mut next = self.clone();
        let (f, p) = (&mut next.fields, patch);
        let all = mask.contains("*");
        let set = |path: &str| all || mask.contains(path);
        if set("display_name") {
            f.display_name = p.display_name;
        }
        if set("goal") {
            f.spec.goal = p.spec.goal;
        }
        if set("segment") {
            f.segment = p.segment;
        }
        if set("exclusion_segments") {
            f.spec.exclusions = p.spec.exclusions;
        }
        if set("channel") {
            f.channel = p.channel;
        }
        if set("variants") {
            f.spec.variants = p.spec.variants;
        }
        if set("schedule") {
            f.spec.schedule = p.spec.schedule;
        }
        if set("transactional") {
            f.transactional = p.transactional;
        }
        if set("throttle_per_second") {
            f.throttle_per_second = p.throttle_per_second;
        }
        if set("coupon_code") {
            f.spec.coupon_code = p.spec.coupon_code;
        }
        if set("experiment") {
            f.spec.experiment = p.spec.experiment;
        }
        if set("holdout_percent") {
            f.spec.holdout_percent = p.spec.holdout_percent;
        }
        next.revision += 1;
        next.update_time = now;
        next
    }

    /// This campaign after `action` at `now`, or the refused move's (from, action).
    pub fn moved(&self, action: Action, now: DateTime<Utc>) -> Result<Campaign, (State, Action)> {
        let state = self.state.after(action).ok_or((self.state, action))?;
        let mut next = self.clone();
        next.state = state;
        next.revision += 1;
        next.update_time = now;
        match action {
            Action::Schedule => next.start_at = Some(self.fields.spec.schedule.start_at(now)),
            Action::Start => next.start_time = Some(now),
            Action::Complete | Action::Cancel => next.end_time = Some(now),
            Action::Pause | Action::Resume => {}
        }
        Ok(next)
    }
}

/// Where one delivery is. `Queued` with a lease is being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeliveryState {
    Pending,
    Queued,
    Sent,
    Skipped,
    Failed,
    Delivered,
    Opened,
    Clicked,
    Bounced,
    Unsubscribed,
    /// In the holdout: receives nothing, measured from its due time.
    HeldOut,
    /// Not in the experiment's test share: waits for the winner.
    AwaitingWinner,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 12] = [
        Self::Pending,
        Self::Queued,
        Self::Sent,
        Self::Skipped,
        Self::Failed,
        Self::Delivered,
        Self::Opened,
        Self::Clicked,
        Self::Bounced,
        Self::Unsubscribed,
        Self::HeldOut,
        Self::AwaitingWinner,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
            Self::Delivered => "delivered",
            Self::Opened => "opened",
            Self::Clicked => "clicked",
            Self::Bounced => "bounced",
            Self::Unsubscribed => "unsubscribed",
            Self::HeldOut => "held_out",
            Self::AwaitingWinner => "awaiting_winner",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The crm.campaigns.v1.Delivery.State number (declaration order from 1).
    pub fn number(self) -> i32 {
        Self::ALL
            .iter()
            .position(|s| *s == self)
            .map_or(0, |i| i as i32 + 1)
    }

    pub fn from_number(n: i32) -> Option<Self> {
        usize::try_from(n - 1)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// Handed to the sender (a receipt may follow).
    pub fn was_sent(self) -> bool {
        self.receipt_rank().is_some()
    }

    /// Order of the post-send states: a receipt moves a delivery only forward.
    fn receipt_rank(self) -> Option<u8> {
        Some(match self {
            Self::Sent => 0,
            Self::Delivered | Self::Bounced => 1,
            Self::Opened => 2,
            Self::Clicked => 3,
            Self::Unsubscribed => 4,
            _ => return None,
        })
    }

    /// The state after a receipt that says `to`: `to` when it is further along, else None
    /// (the receipt is recorded and changes nothing). Receipts for unsent deliveries are
    /// refused by the caller.
    pub fn after_receipt(self, to: DeliveryState) -> Option<DeliveryState> {
        let (from, next) = (self.receipt_rank()?, to.receipt_rank()?);
        (next > from).then_some(to)
    }
}

/// One recipient of one campaign step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: uuid::Uuid,
    pub campaign: CampaignId,
    pub customer: super::CustomerId,
    pub variant: String,
    pub channel: Channel,
    pub transactional: bool,
    pub state: DeliveryState,
    pub reason: Reason,
    pub detail: String,
    pub due_time: DateTime<Utc>,
    pub send_time: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub receipt_time: Option<DateTime<Utc>>,
    pub update_time: DateTime<Utc>,
    /// A journey's occasion ("birthday-2026"); "" for a one-off campaign.
    pub occasion: String,
}

impl Delivery {
    /// `campaigns/{campaign}/deliveries/{customer}[-{occasion}]`.
    pub fn name(&self) -> String {
        delivery_name(self.campaign, self.customer, &self.occasion)
    }
}

pub fn delivery_name(campaign: CampaignId, customer: super::CustomerId, occasion: &str) -> String {
    if occasion.is_empty() {
        format!("{}/deliveries/{}", campaign.name(), customer.0)
    } else {
        format!("{}/deliveries/{}-{occasion}", campaign.name(), customer.0)
    }
}

/// The campaign, customer and occasion ("" when none) of
/// `campaigns/{campaign}/deliveries/{customer}[-{occasion}]`.
pub fn parse_delivery_name(name: &str) -> Result<(CampaignId, super::CustomerId, String), String> {
    let bad = || "must be campaigns/{campaign}/deliveries/{customer}[-{occasion}]".to_owned();
    let (campaign, id) = name.split_once("/deliveries/").ok_or_else(bad)?;
    let campaign = CampaignId::parse_name(campaign).map_err(|_| bad())?;
    // A UUID is 36 characters; an occasion follows after a '-'.
    let (customer, occasion) = match (id.get(..36), id.get(36..)) {
        (Some(c), Some("")) => (c, ""),
        (Some(c), Some(rest)) => match rest.strip_prefix('-') {
            Some(o) if super::journey::is_occasion(o) => (c, o),
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    let customer = uuid::Uuid::parse_str(customer).map_err(|_| bad())?;
    Ok((campaign, super::CustomerId(customer), occasion.to_owned()))
}

/// Exponential backoff before attempt `attempts + 1`: base * 2^(attempts-1), capped.
pub fn retry_delay(attempts: u32, base_ms: u64, max_ms: u64) -> Duration {
    let factor = 1u64
        .checked_shl(attempts.saturating_sub(1).min(32))
        .unwrap_or(u64::MAX);
    Duration::milliseconds(
        i64::try_from(base_ms.saturating_mul(factor).min(max_ms)).unwrap_or(i64::MAX),
    )
}

/// Why a delivery was skipped or deferred (crm.campaigns.v1.Delivery.Reason numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reason {
    None = 0,
    NoConsent = 1,
    FrequencyCap = 2,
    QuietHours = 3,
    OpenComplaint = 4,
    NoAddress = 5,
    CustomerGone = 6,
    CampaignCancelled = 7,
    Throttled = 8,
    SenderError = 9,
    ProfilePending = 10,
    NotInSegment = 11,
    CouponsExhausted = 12,
}

impl Reason {
    const ALL: [Reason; 13] = [
        Self::None,
        Self::NoConsent,
        Self::FrequencyCap,
        Self::QuietHours,
        Self::OpenComplaint,
        Self::NoAddress,
        Self::CustomerGone,
        Self::CampaignCancelled,
        Self::Throttled,
        Self::SenderError,
        Self::ProfilePending,
        Self::NotInSegment,
        Self::CouponsExhausted,
    ];

    pub fn number(self) -> i32 {
        self as i32
    }

    pub fn from_number(n: i32) -> Self {
        Self::ALL
            .into_iter()
            .find(|r| r.number() == n)
            .unwrap_or(Self::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_pair_is_allowed_or_refused_as_documented() {
        use Action as A;
        use State as S;
        let allowed = [
            (S::Draft, A::Schedule, S::Scheduled),
            (S::Scheduled, A::Start, S::Running),
            (S::Running, A::Pause, S::Paused),
            (S::Paused, A::Resume, S::Running),
            (S::Running, A::Complete, S::Completed),
            (S::Draft, A::Cancel, S::Cancelled),
            (S::Scheduled, A::Cancel, S::Cancelled),
            (S::Running, A::Cancel, S::Cancelled),
            (S::Paused, A::Cancel, S::Cancelled),
        ];
        let actions = [
            A::Schedule,
            A::Start,
            A::Pause,
            A::Resume,
            A::Complete,
            A::Cancel,
        ];
        for from in State::ALL {
            for action in actions {
                let want = allowed
                    .iter()
                    .find(|(f, a, _)| *f == from && *a == action)
                    .map(|(_, _, to)| *to);
                assert_eq!(from.after(action), want, "{from:?} {action:?}");
            }
        }
    }

    #[test]
    fn codes_and_numbers_round_trip() {
        for s in State::ALL {
            assert_eq!(State::from_code(s.code()), Some(s));
            assert_eq!(State::from_number(s.number()), Some(s));
        }
        for s in DeliveryState::ALL {
            assert_eq!(DeliveryState::from_code(s.code()), Some(s));
            assert_eq!(DeliveryState::from_number(s.number()), Some(s));
        }
        for c in Channel::ALL {
            assert_eq!(Channel::from_number(c.number()), Some(c));
        }
        assert_eq!(DeliveryState::Unsubscribed.number(), 10);
        assert_eq!(Reason::from_number(10), Reason::ProfilePending);
    }

    #[test]
    fn delivery_names_round_trip_and_retries_back_off_to_a_cap() {
        let (c, u) = (CampaignId::generate(), super::super::CustomerId::generate());
        assert_eq!(
            parse_delivery_name(&delivery_name(c, u, "")),
            Ok((c, u, String::new()))
        );
        assert_eq!(
            parse_delivery_name(&delivery_name(c, u, "birthday-2026")),
            Ok((c, u, "birthday-2026".into()))
        );
        assert!(parse_delivery_name("campaigns/x/deliveries/y").is_err());
        let bad = format!("{}/deliveries/{}-", c.name(), u.0);
        assert!(parse_delivery_name(&bad).is_err(), "an empty occasion");
        let bad = format!("{}/deliveries/{}Xbirthday", c.name(), u.0);
        assert!(parse_delivery_name(&bad).is_err(), "no dash");
        assert_eq!(retry_delay(1, 1000, 60_000), Duration::seconds(1));
        assert_eq!(retry_delay(3, 1000, 60_000), Duration::seconds(4));
        assert_eq!(retry_delay(40, 1000, 60_000), Duration::seconds(60));
    }

    #[test]
    fn receipts_only_move_forward() {
        use DeliveryState as D;
        assert_eq!(D::Sent.after_receipt(D::Delivered), Some(D::Delivered));
        assert_eq!(D::Clicked.after_receipt(D::Delivered), None);
        assert_eq!(D::Opened.after_receipt(D::Clicked), Some(D::Clicked));
        assert_eq!(
            D::Clicked.after_receipt(D::Unsubscribed),
            Some(D::Unsubscribed)
        );
        assert_eq!(D::Pending.after_receipt(D::Delivered), None);
        assert!(!D::Skipped.was_sent());
    }

    fn local(date: &str, time: &str) -> Schedule {
        Schedule::Local {
            date: date.parse().expect("date"),
            time: time.parse().expect("time"),
        }
    }

    #[test]
    fn local_schedules_start_where_it_is_that_time_first_and_are_due_per_zone() {
        let s = local("2026-12-24", "09:00:00");
        let now = "2026-12-01T00:00:00Z".parse().expect("now");
        let start = s.start_at(now);
        assert_eq!(start.to_rfc3339(), "2026-12-23T19:00:00+00:00");
        let shanghai = s.due_for(start, chrono_tz::Asia::Shanghai);
        assert_eq!(shanghai.to_rfc3339(), "2026-12-24T01:00:00+00:00");
        let ny = s.due_for(start, chrono_tz::America::New_York);
        assert_eq!(ny.to_rfc3339(), "2026-12-24T14:00:00+00:00");
    }

    #[test]
    fn dst_gaps_move_later_and_overlaps_take_the_first() {
        // 2026-03-08 02:30 does not exist in New York (clocks jump 02:00 -> 03:00).
        let gap = local("2026-03-08", "02:30:00");
        let start = gap.start_at("2026-03-01T00:00:00Z".parse().expect("t"));
        let due = gap.due_for(start, chrono_tz::America::New_York);
        assert_eq!(due.to_rfc3339(), "2026-03-08T07:30:00+00:00"); // 03:30 EDT
        // 2026-11-01 01:30 happens twice; the first is EDT (UTC-4).
        let overlap = local("2026-11-01", "01:30:00");
        let start = overlap.start_at("2026-10-01T00:00:00Z".parse().expect("t"));
        let due = overlap.due_for(start, chrono_tz::America::New_York);
        assert_eq!(due.to_rfc3339(), "2026-11-01T05:30:00+00:00");
    }

    #[test]
    fn moves_stamp_their_times() {
        let fields = CampaignFields {
            display_name: "x".into(),
            segment: SegmentId::generate(),
            channel: Channel::Email,
            transactional: false,
            throttle_per_second: 10,
            spec: Spec {
                goal: Goal {
                    kind: GoalKind::Purchase,
                    window_days: 7,
                },
                exclusions: vec![],
                variants: vec![],
                schedule: Schedule::Immediately,
                coupon_code: String::new(),
                experiment: None,
                holdout_percent: 0,
            },
        };
        let t0 = "2026-12-01T00:00:00Z".parse().expect("t");
        let c = Campaign::new(fields, t0);
        let s = c.moved(Action::Schedule, t0).expect("schedule");
        assert_eq!(
            (s.state, s.start_at, s.revision),
            (State::Scheduled, Some(t0), 2)
        );
        assert_eq!(
            s.moved(Action::Pause, t0),
            Err((State::Scheduled, Action::Pause))
        );
        let r = s.moved(Action::Start, t0).expect("start");
        assert_eq!(r.start_time, Some(t0));
    }
}
