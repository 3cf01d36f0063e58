//! SLA policies and the SLA state a ticket carries. Targets are business time on a
//! [`Calendar`]; the clock pauses while a ticket waits for the customer (every due time moves
//! by the business time spent paused, so the remaining business time is unchanged).
use super::{Calendar, Category, Priority, SlaState};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Target {
    FirstResponse,
    NextResponse,
    Resolution,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::FirstResponse => "first_response",
            Target::NextResponse => "next_response",
            Target::Resolution => "resolution",
        }
    }
}

/// Targets for the tickets a policy matches, in business minutes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    pub name: String,
    /// Matches this priority only (none: any).
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Matches this category only (none: any).
    #[serde(default)]
    pub category: Option<Category>,
    /// First answer by the end of the business day the ticket arrived on (or the next one
    /// when it arrived after hours). When false, `first_response_minutes` applies.
    #[serde(default)]
    pub first_response_same_day: bool,
    #[serde(default)]
    pub first_response_minutes: i64,
    /// An agent answers a customer's reply within this.
    pub next_response_minutes: i64,
    /// Solved within this.
    pub resolution_minutes: i64,
}

impl SlaPolicy {
    fn specificity(&self) -> u8 {
        u8::from(self.priority.is_some()) * 2 + u8::from(self.category.is_some())
    }

    fn matches(&self, p: Priority, c: Category) -> bool {
        self.priority.is_none_or(|x| x == p) && self.category.is_none_or(|x| x == c)
    }

    /// The business seconds this policy allows for `target` on a ticket created at `created`.
    fn allowance(&self, target: Target, cal: &Calendar, created: DateTime<Utc>) -> i64 {
        match target {
            Target::FirstResponse if self.first_response_same_day => {
                cal.business_seconds(created, cal.end_of_business_day(created))
            }
            Target::FirstResponse => minutes(self.first_response_minutes),
            Target::NextResponse => minutes(self.next_response_minutes),
            Target::Resolution => minutes(self.resolution_minutes),
        }
    }

    pub fn validate(&self, problems: &mut Vec<String>) {
        let n = &self.name;
        if !self.first_response_same_day && self.first_response_minutes <= 0 {
            problems.push(format!(
                "sla policy {n}: first_response_minutes > 0 or first_response_same_day"
            ));
        }
        if self.next_response_minutes <= 0 || self.resolution_minutes <= 0 {
            problems.push(format!(
                "sla policy {n}: next_response_minutes and resolution_minutes must be > 0"
            ));
        }
    }
}

/// The most specific policy for a ticket: priority and category, then priority, then
/// category, then the catch-all; first listed wins a tie.
pub fn select(policies: &[SlaPolicy], p: Priority, c: Category) -> Option<&SlaPolicy> {
    policies
        .iter()
        .filter(|x| x.matches(p, c))
        .enumerate()
        .max_by_key(|(i, x)| (x.specificity(), std::cmp::Reverse(*i)))
        .map(|(_, x)| x)
}

/// A ticket's SLA policy and the calendar its targets run on: what a rule needs to move them.
#[derive(Debug, Clone, Copy)]
pub struct SlaRules<'a> {
    pub policy: &'a SlaPolicy,
    pub calendar: &'a Calendar,
}

/// A target missed at its due time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Miss {
    pub target: Target,
    pub due: DateTime<Utc>,
}

/// The SLA of one ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaTrack {
    pub policy: String,
    pub first_response_due: Option<DateTime<Utc>>,
    pub next_response_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    pub paused_since: Option<DateTime<Utc>>,
    pub missed: Vec<Miss>,
    /// Solved or closed: no target is running.
    pub finished: bool,
    /// Finished before any public agent reply, while the first-response target was not yet
    /// due: that target does not apply (the SLA state is `not_applicable` unless another
    /// target was missed). A later agent reply (after a reopen) clears it.
    #[serde(default)]
    pub unanswered: bool,
}

fn minutes(m: i64) -> i64 {
    m.saturating_mul(60)
}

impl SlaTrack {
    pub fn start(policy: &SlaPolicy, cal: &Calendar, at: DateTime<Utc>) -> Self {
        let first = if policy.first_response_same_day {
            cal.end_of_business_day(at)
        } else {
            cal.add(at, minutes(policy.first_response_minutes))
        };
        Self {
            policy: policy.name.clone(),
            first_response_due: Some(first),
            next_response_due: None,
            resolution_due: Some(cal.add(at, minutes(policy.resolution_minutes))),
            paused_since: None,
            missed: Vec::new(),
            finished: false,
            unanswered: false,
        }
    }

    /// No targets at all (e.g. a merged ticket).
    pub fn none(policy: &str) -> Self {
        Self {
            policy: policy.to_owned(),
            first_response_due: None,
            next_response_due: None,
            resolution_due: None,
            paused_since: None,
            missed: Vec::new(),
            finished: true,
            unanswered: false,
        }
    }

    fn dues_mut(&mut self) -> [(Target, &mut Option<DateTime<Utc>>); 3] {
        [
            (Target::FirstResponse, &mut self.first_response_due),
            (Target::NextResponse, &mut self.next_response_due),
            (Target::Resolution, &mut self.resolution_due),
        ]
    }

    pub fn dues(&self) -> [(Target, Option<DateTime<Utc>>); 3] {
        [
            (Target::FirstResponse, self.first_response_due),
            (Target::NextResponse, self.next_response_due),
            (Target::Resolution, self.resolution_due),
        ]
    }

    pub fn pause(&mut self, at: DateTime<Utc>) {
        if self.paused_since.is_none() && !self.finished {
            self.paused_since = Some(at);
        }
    }

    /// Moves every due time by the business time spent paused.
    pub fn resume(&mut self, cal: &Calendar, at: DateTime<Utc>) {
        let Some(since) = self.paused_since.take() else {
            return;
        };
        let shift = cal.business_seconds(since, at);
        for (_, due) in self.dues_mut() {
            if let Some(d) = due {
                // A target already overdue when the pause began stays where it was.
                if *d > since {
                    *d = cal.add(*d, shift);
                }
            }
        }
    }

    fn record(&mut self, target: Target, due: DateTime<Utc>) {
        if !self
            .missed
            .iter()
            .any(|m| m.target == target && m.due == due)
        {
            self.missed.push(Miss { target, due });
        }
    }

    /// The target was met (or is no longer owed) at `at`; a late meeting counts as a miss.
    pub fn met(&mut self, target: Target, at: DateTime<Utc>) {
        if target == Target::FirstResponse {
            self.unanswered = false;
        }
        let mut late = None;
        for (t, due) in self.dues_mut() {
            if t == target
                && let Some(d) = due.take()
                && at > d
            {
                late = Some(d);
            }
        }
        if let Some(d) = late {
            self.record(target, d);
        }
    }

    /// A customer wrote: an answer is owed within the next-response target.
    pub fn owe_reply(&mut self, policy: &SlaPolicy, cal: &Calendar, at: DateTime<Utc>) {
        if !self.finished && self.first_response_due.is_none() && self.next_response_due.is_none() {
            self.next_response_due = Some(cal.add(at, minutes(policy.next_response_minutes)));
        }
    }

    /// Solved (or closed): resolution is checked; nothing runs any more. Only a public agent
    /// reply meets the first-response target, so finishing without one is a miss when the
    /// target was due before `at`, and otherwise leaves the target unanswered (not
    /// applicable). A next reply no longer owed is not a miss.
    pub fn finish(&mut self, at: DateTime<Utc>) {
        self.paused_since = None;
        self.met(Target::Resolution, at);
        if let Some(due) = self.first_response_due.take() {
            if at > due {
                self.record(Target::FirstResponse, due);
            } else {
                self.unanswered = true;
            }
        }
        self.next_response_due = None;
        self.finished = true;
    }

    /// Reopened: a fresh resolution target and an answer owed.
    pub fn restart(&mut self, policy: &SlaPolicy, cal: &Calendar, at: DateTime<Utc>) {
        self.finished = false;
        self.paused_since = None;
        self.resolution_due = Some(cal.add(at, minutes(policy.resolution_minutes)));
        self.next_response_due = Some(cal.add(at, minutes(policy.next_response_minutes)));
    }

    /// The ticket now falls under another policy (its priority or category changed): every
    /// target still running keeps the business time it has used and gets the new policy's
    /// allowance, so a stricter policy pulls due times in and a laxer one pushes them out.
    /// A target the new policy's allowance is already used up for falls due at once (at `at`,
    /// or when the pause began); targets already past due stay as they are, so a breach is
    /// never moved or counted twice. `old` is the policy the track was started with (None
    /// when it is no longer configured: the due times are then kept).
    pub fn repolicy(
        &mut self,
        old: Option<&SlaPolicy>,
        new: &SlaPolicy,
        cal: &Calendar,
        created: DateTime<Utc>,
        at: DateTime<Utc>,
    ) {
        if self.policy == new.name {
            return;
        }
        self.policy = new.name.clone();
        let Some(old) = old else {
            return;
        };
        if self.finished {
            return;
        }
        // While paused the clock stands at the start of the pause.
        let clock = self.paused_since.unwrap_or(at);
        for (target, due) in self.dues_mut() {
            if let Some(d) = due
                && *d > clock
            {
                let remaining = cal.business_seconds(clock, *d);
                let used = old.allowance(target, cal, created) - remaining;
                let left = new.allowance(target, cal, created) - used;
                *d = if left > 0 {
                    cal.add(clock, left)
                } else {
                    clock
                };
            }
        }
    }

    /// Targets past due at `at` and not yet recorded as missed (none while paused).
    pub fn overdue(&self, at: DateTime<Utc>) -> Vec<(Target, DateTime<Utc>)> {
        if self.paused_since.is_some() || self.finished {
            return Vec::new();
        }
        self.dues()
            .into_iter()
            .filter_map(|(t, d)| Some((t, d?)))
            .filter(|(t, d)| *d < at && !self.missed.iter().any(|m| m.target == *t && m.due == *d))
            .collect()
    }

    /// Records a breach found by the SLA job.
    pub fn breach(&mut self, target: Target, due: DateTime<Utc>) {
        self.record(target, due);
    }

    /// The earliest running due time not yet missed (none while paused): the SLA job looks at
    /// tickets whose value is in the past.
    pub fn next_check(&self) -> Option<DateTime<Utc>> {
        if self.paused_since.is_some() || self.finished {
            return None;
        }
        self.dues()
            .into_iter()
            .filter_map(|(t, d)| {
                let d = d?;
                (!self.missed.iter().any(|m| m.target == t && m.due == d)).then_some(d)
            })
            .min()
    }

    pub fn state(&self, at: DateTime<Utc>) -> SlaState {
        let missed = !self.missed.is_empty() || !self.overdue(at).is_empty();
        match (self.finished, missed) {
            (false, false) => SlaState::Active,
            (false, true) => SlaState::ActiveWithMisses,
            (true, false) if self.unanswered => SlaState::NotApplicable,
            (true, false) => SlaState::Hit,
            (true, true) => SlaState::Missed,
        }
    }

    pub fn missed_targets(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.missed.iter().map(|m| m.target.as_str()).collect();
        v.dedup();
        v
    }
}

/// Wall-clock seconds and business seconds between two instants.
pub fn elapsed(cal: &Calendar, from: DateTime<Utc>, to: DateTime<Utc>) -> (i64, i64) {
    (
        (to - from).max(Duration::zero()).num_seconds(),
        cal.business_seconds(from, to),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(name: &str, p: Option<Priority>, c: Option<Category>) -> SlaPolicy {
        SlaPolicy {
            name: name.into(),
            priority: p,
            category: c,
            first_response_same_day: false,
            first_response_minutes: 60,
            next_response_minutes: 120,
            resolution_minutes: 600,
        }
    }

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default() + Duration::hours(h)
    }

    #[test]
    fn most_specific_policy_wins() {
        let ps = [
            policy("default", None, None),
            policy("complaints", None, Some(Category::Complaint)),
            policy("urgent", Some(Priority::Urgent), None),
            policy(
                "urgent-billing",
                Some(Priority::Urgent),
                Some(Category::Billing),
            ),
        ];
        let name = |p, c| select(&ps, p, c).map(|x| x.name.as_str());
        assert_eq!(name(Priority::Low, Category::Other), Some("default"));
        assert_eq!(name(Priority::Low, Category::Complaint), Some("complaints"));
        assert_eq!(name(Priority::Urgent, Category::Complaint), Some("urgent"));
        assert_eq!(
            name(Priority::Urgent, Category::Billing),
            Some("urgent-billing")
        );
        assert_eq!(select(&ps[1..2], Priority::Low, Category::Other), None);
    }

    #[test]
    fn lifecycle_hit() {
        let cal = Calendar::always();
        let p = policy("p", None, None);
        let mut s = SlaTrack::start(&p, &cal, t(0));
        assert_eq!(s.first_response_due, Some(t(1)));
        assert_eq!(s.state(t(0)), SlaState::Active);
        s.met(Target::FirstResponse, t(0) + Duration::minutes(30));
        s.owe_reply(&p, &cal, t(2));
        assert_eq!(s.next_response_due, Some(t(4)));
        s.met(Target::NextResponse, t(3));
        s.finish(t(5));
        assert_eq!(s.state(t(100)), SlaState::Hit);
        assert!(s.overdue(t(100)).is_empty());
    }

    #[test]
    fn pause_moves_dues_by_the_paused_time() {
        let cal = Calendar::always();
        let p = policy("p", None, None);
        let mut s = SlaTrack::start(&p, &cal, t(0));
        s.met(Target::FirstResponse, t(0));
        s.pause(t(1));
        assert!(s.overdue(t(50)).is_empty(), "no breach while paused");
        assert_eq!(s.next_check(), None);
        s.resume(&cal, t(21));
        assert_eq!(s.resolution_due, Some(t(30)));
        assert_eq!(s.next_check(), Some(t(30)));
    }

    #[test]
    fn breach_recorded_once_and_state_follows() {
        let cal = Calendar::always();
        let p = policy("p", None, None);
        let mut s = SlaTrack::start(&p, &cal, t(0));
        let over = s.overdue(t(2));
        assert_eq!(over, vec![(Target::FirstResponse, t(1))]);
        assert_eq!(s.state(t(2)), SlaState::ActiveWithMisses);
        s.breach(Target::FirstResponse, t(1));
        assert!(s.overdue(t(2)).is_empty());
        assert_eq!(s.next_check(), Some(t(10)));
        // Answering late does not count it twice.
        s.met(Target::FirstResponse, t(3));
        assert_eq!(s.missed.len(), 1);
        s.finish(t(4));
        assert_eq!(s.state(t(4)), SlaState::Missed);
        assert_eq!(s.missed_targets(), ["first_response"]);
    }

    #[test]
    fn solved_without_a_reply_is_not_a_hit() {
        let cal = Calendar::always();
        let p = policy("p", None, None); // first response within 1 hour
        // Solved before the first response fell due: the target does not apply.
        let mut s = SlaTrack::start(&p, &cal, t(0));
        s.finish(t(0) + Duration::minutes(30));
        assert_eq!(s.state(t(100)), SlaState::NotApplicable);
        assert!(s.missed.is_empty());
        // Reopened and answered by an agent, then solved: a hit after all.
        s.restart(&p, &cal, t(2));
        s.met(Target::FirstResponse, t(2));
        s.met(Target::NextResponse, t(2));
        s.finish(t(3));
        assert_eq!(s.state(t(100)), SlaState::Hit);

        // Solved after the first response fell due, without a reply: missed (also when the
        // SLA job had not recorded the breach yet).
        let mut s = SlaTrack::start(&p, &cal, t(0));
        s.finish(t(2));
        assert_eq!(s.state(t(100)), SlaState::Missed);
        assert_eq!(
            s.missed,
            vec![Miss {
                target: Target::FirstResponse,
                due: t(1)
            }]
        );
        // The breach already recorded by the job is not counted twice.
        let mut s = SlaTrack::start(&p, &cal, t(0));
        s.breach(Target::FirstResponse, t(1));
        s.finish(t(2));
        assert_eq!(s.missed.len(), 1);
    }

    #[test]
    fn reopen_restarts_resolution() {
        let cal = Calendar::always();
        let p = policy("p", None, None);
        let mut s = SlaTrack::start(&p, &cal, t(0));
        s.met(Target::FirstResponse, t(0));
        s.finish(t(1));
        s.restart(&p, &cal, t(5));
        assert_eq!(s.resolution_due, Some(t(15)));
        assert_eq!(s.next_response_due, Some(t(7)));
        assert_eq!(s.state(t(6)), SlaState::Active);
    }

    #[test]
    fn stricter_policy_pulls_running_targets_in() {
        let cal = Calendar::always();
        let normal = policy("normal", None, None); // 60 / 120 / 600 minutes
        let urgent = SlaPolicy {
            first_response_minutes: 30,
            resolution_minutes: 240,
            ..policy("urgent", Some(Priority::Urgent), None)
        };
        let mut s = SlaTrack::start(&normal, &cal, t(0));
        // 20 minutes in: first response has 40 left under "normal", 10 under "urgent".
        let at = t(0) + Duration::minutes(20);
        s.repolicy(Some(&normal), &urgent, &cal, t(0), at);
        assert_eq!(s.policy, "urgent");
        assert_eq!(s.first_response_due, Some(t(0) + Duration::minutes(30)));
        assert_eq!(s.resolution_due, Some(t(4)));
        // Back to the laxer policy: the allowances grow again.
        s.repolicy(Some(&urgent), &normal, &cal, t(0), at);
        assert_eq!(s.first_response_due, Some(t(1)));
        assert_eq!(s.resolution_due, Some(t(10)));
    }

    #[test]
    fn used_up_allowance_falls_due_now_and_past_breaches_stay() {
        let cal = Calendar::always();
        let normal = policy("normal", None, None);
        let urgent = SlaPolicy {
            first_response_minutes: 30,
            ..policy("urgent", Some(Priority::Urgent), None)
        };
        let mut s = SlaTrack::start(&normal, &cal, t(0));
        let at = t(0) + Duration::minutes(45);
        s.repolicy(Some(&normal), &urgent, &cal, t(0), at);
        assert_eq!(s.first_response_due, Some(at));
        assert_eq!(s.overdue(at + Duration::seconds(1)).len(), 1);

        // A target already missed keeps its due time (the breach is not re-counted).
        let mut s = SlaTrack::start(&normal, &cal, t(0));
        s.breach(Target::FirstResponse, t(1));
        s.repolicy(Some(&normal), &urgent, &cal, t(0), t(2));
        assert_eq!(s.first_response_due, Some(t(1)));
        assert!(s.overdue(t(2)).is_empty());
    }

    #[test]
    fn repolicy_while_paused_counts_from_the_pause() {
        let cal = Calendar::always();
        let normal = policy("normal", None, None);
        let urgent = SlaPolicy {
            resolution_minutes: 240,
            ..policy("urgent", Some(Priority::Urgent), None)
        };
        let mut s = SlaTrack::start(&normal, &cal, t(0));
        s.met(Target::FirstResponse, t(0));
        s.pause(t(1));
        s.repolicy(Some(&normal), &urgent, &cal, t(0), t(3));
        // One hour used before the pause: three of four left, from the pause.
        assert_eq!(s.resolution_due, Some(t(4)));
        s.resume(&cal, t(5));
        assert_eq!(s.resolution_due, Some(t(8)));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn office() -> Calendar {
            let day = "09:00-18:00".to_owned();
            let week: [String; 7] =
                std::array::from_fn(|i| if i < 5 { day.clone() } else { String::new() });
            Calendar::parse("Europe/Berlin", &week, &["2026-03-30".to_owned()])
                .unwrap_or_else(|_| Calendar::always())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// Pausing (pending customer) leaves the remaining business time of every running
            /// target unchanged, whatever the pause spans (nights, weekends, a holiday, DST).
            #[test]
            fn pause_preserves_remaining_business_time(
                start in 0i64..(60 * 24 * 40),
                pause_after in 0i64..(60 * 24 * 5),
                pause_len in 0i64..(60 * 24 * 10),
            ) {
                let cal = office();
                let p = policy("p", None, None);
                let t0 = DateTime::from_timestamp(1_772_323_200, 0).unwrap_or_default()
                    + Duration::minutes(start); // from 2026-03-01
                let mut s = SlaTrack::start(&p, &cal, t0);
                let paused = t0 + Duration::minutes(pause_after);
                let resumed = paused + Duration::minutes(pause_len);
                let before: Vec<_> = s.dues().iter().map(|(_, d)| d.map(|d| cal.business_seconds(paused, d))).collect();
                s.pause(paused);
                prop_assert!(s.overdue(resumed + Duration::days(365)).is_empty());
                s.resume(&cal, resumed);
                for ((_, due), remaining) in s.dues().iter().zip(before) {
                    if let (Some(due), Some(remaining)) = (due, remaining)
                        && remaining > 0
                    {
                        prop_assert_eq!(cal.business_seconds(resumed, *due), remaining);
                    }
                }
            }
        }
    }
}
