//! The sending rules of one recipient at send time, pure: given what the read model says
//! now, skip (with the reason), defer, or send. The order is the README's: a customer who is
//! gone, has no consent or an open complaint is skipped before quiet hours defer anyone;
//! the frequency cap is counted when the message would actually go (after quiet hours).
use crate::domain::campaign::{Channel, Reason};
use crate::domain::member::{Member, MemberState, Profile};
use chrono::{DateTime, Duration, Utc};

/// How long a recipient whose profile has not arrived waits before the next look.
pub const PROFILE_RETRY: Duration = Duration::seconds(30);

/// A frequency cap and how many marketing messages of the channel the customer already had
/// in its window.
#[derive(Debug, Clone, Copy)]
pub struct CapCount {
    pub max: u32,
    pub window: Duration,
    pub count: u64,
}

/// What is known about one recipient now.
pub struct Facts<'a> {
    pub member: Option<&'a Member>,
    pub profile: Option<&'a Profile>,
    pub channel: Channel,
    pub transactional: bool,
    /// Set for marketing messages of a capped channel.
    pub cap: Option<CapCount>,
    /// The end of the recipient's quiet hours when it is quiet there now (marketing only).
    pub quiet_until: Option<DateTime<Utc>>,
    /// How long this recipient has been waiting for its profile, and the most it may.
    pub waited: Duration,
    pub profile_wait: Duration,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Skip(Reason, String),
    Defer(DateTime<Utc>, Reason, String),
    /// Send to this address.
    Send(String),
}

pub fn decide(f: &Facts<'_>) -> Decision {
    let Some(member) = f.member else {
        return profile_pending(f);
    };
    if member.state != MemberState::Active {
        return Decision::Skip(
            Reason::CustomerGone,
            format!("customer is {}", member.state.code()),
        );
    }
    if let Some(consent) = f.channel.consent_channel()
        && !member.consented_channels.contains(&consent)
    {
        return Decision::Skip(
            Reason::NoConsent,
            format!("no {} consent", f.channel.code()),
        );
    }
    if !f.transactional && member.open_complaints > 0 {
        return Decision::Skip(
            Reason::OpenComplaint,
            format!("{} open complaint ticket(s)", member.open_complaints),
        );
    }
    if !f.transactional
        && let Some(until) = f.quiet_until
    {
        return Decision::Defer(until, Reason::QuietHours, "quiet hours".into());
    }
    if !f.transactional
        && let Some(cap) = f.cap
        && cap.count >= u64::from(cap.max)
    {
        return Decision::Skip(
            Reason::FrequencyCap,
            format!(
                "{} marketing {} messages in the last {} hours (cap {})",
                cap.count,
                f.channel.code(),
                cap.window.num_hours(),
                cap.max
            ),
        );
    }
    let Some(profile) = f.profile else {
        return profile_pending(f);
    };
    let to = match f.channel {
        Channel::Email => profile.primary_email.clone(),
        Channel::Sms => profile.phone.clone(),
        Channel::Push | Channel::Webhook => member.customer.name(),
    };
    if to.is_empty() {
        return Decision::Skip(
            Reason::NoAddress,
            format!("no {} address", f.channel.code()),
        );
    }
    Decision::Send(to)
}

fn profile_pending(f: &Facts<'_>) -> Decision {
    if f.waited >= f.profile_wait {
        Decision::Skip(
            Reason::ProfilePending,
            "the profile did not arrive in time".into(),
        )
    } else {
        Decision::Defer(
            f.now + PROFILE_RETRY,
            Reason::ProfilePending,
            "waiting for the profile".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CustomerId;

    fn member() -> Member {
        Member {
            customer: CustomerId::generate(),
            state: MemberState::Active,
            language_code: "zh-CN".into(),
            time_zone: "Asia/Shanghai".into(),
            tags: vec![],
            lifecycle_stage: 0,
            tier: "gold".into(),
            available_points: 10,
            order_count: 1,
            last_purchase_time: None,
            rfm_segment: String::new(),
            open_complaints: 0,
            consented_channels: vec![1, 2],
            update_time: Utc::now(),
        }
    }

    fn profile() -> Profile {
        Profile {
            given_name: "Wei".into(),
            primary_email: "li.wei@example.com".into(),
            ..Default::default()
        }
    }

    fn facts<'a>(m: Option<&'a Member>, p: Option<&'a Profile>) -> Facts<'a> {
        Facts {
            member: m,
            profile: p,
            channel: Channel::Email,
            transactional: false,
            cap: Some(CapCount {
                max: 3,
                window: Duration::hours(168),
                count: 0,
            }),
            quiet_until: None,
            waited: Duration::zero(),
            profile_wait: Duration::minutes(10),
            now: Utc::now(),
        }
    }

    #[test]
    fn a_consenting_member_with_an_address_is_sent_to() {
        let (m, p) = (member(), profile());
        assert_eq!(
            decide(&facts(Some(&m), Some(&p))),
            Decision::Send("li.wei@example.com".into())
        );
    }

    #[test]
    fn each_rule_skips_or_defers_with_its_reason() {
        let p = profile();
        let reason = |d: Decision| match d {
            Decision::Skip(r, _) | Decision::Defer(_, r, _) => r,
            Decision::Send(_) => Reason::None,
        };
        let mut gone = member();
        gone.state = MemberState::Merged;
        assert_eq!(
            reason(decide(&facts(Some(&gone), Some(&p)))),
            Reason::CustomerGone
        );
        let mut no_consent = member();
        no_consent.consented_channels = vec![2];
        assert_eq!(
            reason(decide(&facts(Some(&no_consent), Some(&p)))),
            Reason::NoConsent
        );
        let mut complaining = member();
        complaining.open_complaints = 1;
        assert_eq!(
            reason(decide(&facts(Some(&complaining), Some(&p)))),
            Reason::OpenComplaint
        );
        let m = member();
        let mut quiet = facts(Some(&m), Some(&p));
        quiet.quiet_until = Some(Utc::now());
        assert!(matches!(
            decide(&quiet),
            Decision::Defer(_, Reason::QuietHours, _)
        ));
        let mut capped = facts(Some(&m), Some(&p));
        capped.cap = Some(CapCount {
            max: 3,
            window: Duration::hours(168),
            count: 3,
        });
        assert_eq!(reason(decide(&capped)), Reason::FrequencyCap);
        let no_email = Profile::default();
        assert_eq!(
            reason(decide(&facts(Some(&m), Some(&no_email)))),
            Reason::NoAddress
        );
    }

    #[test]
    fn transactional_messages_skip_caps_quiet_hours_and_suppression_but_not_consent() {
        let p = profile();
        let mut m = member();
        m.open_complaints = 2;
        let mut f = facts(Some(&m), Some(&p));
        f.transactional = true;
        f.quiet_until = Some(Utc::now());
        f.cap = Some(CapCount {
            max: 1,
            window: Duration::hours(1),
            count: 9,
        });
        assert!(matches!(decide(&f), Decision::Send(_)));
        m.consented_channels.clear();
        let mut f = facts(Some(&m), Some(&p));
        f.transactional = true;
        assert!(matches!(decide(&f), Decision::Skip(Reason::NoConsent, _)));
    }

    #[test]
    fn a_missing_profile_waits_then_is_skipped() {
        let m = member();
        assert!(matches!(
            decide(&facts(Some(&m), None)),
            Decision::Defer(_, Reason::ProfilePending, _)
        ));
        let mut f = facts(None, None);
        f.waited = Duration::minutes(11);
        assert!(matches!(
            decide(&f),
            Decision::Skip(Reason::ProfilePending, _)
        ));
    }
}
