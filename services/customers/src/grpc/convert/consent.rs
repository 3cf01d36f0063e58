//! Consents: one decision per channel, dated.
use super::enums::{CHANNELS, code_of, enum_field};
use super::{bounded, max_chars};
use crate::domain::Consent;
use chrono::{DateTime, Utc};
use crm_platform::Violations;
use crm_platform::validate::{self, text, to_timestamp};
use crm_proto::customers as pb;

/// The consents of a profile; a decision without a time is dated `now`, one in the future
/// is refused.
pub(super) fn consents_from_proto(
    consents: &[pb::Consent],
    now: DateTime<Utc>,
    v: &mut Violations,
) -> Vec<Consent> {
    let mut out = Vec::new();
    // One consent per channel: more entries than channels cannot be right.
    for (i, c) in bounded("consents", consents, CHANNELS.len(), v)
        .iter()
        .enumerate()
    {
        let f = format!("consents[{i}]");
        let channel = if c.channel == 0 {
            v.add(format!("{f}.channel"), "is required");
            None
        } else {
            enum_field(c.channel, &format!("{f}.channel"), CHANNELS, v)
        };
        let granted = match pb::ConsentState::try_from(c.state) {
            Ok(pb::ConsentState::Granted) => Some(true),
            Ok(pb::ConsentState::Revoked) => Some(false),
            _ => {
                v.add(format!("{f}.state"), "must be GRANTED or REVOKED");
                None
            }
        };
        let time_field = format!("{f}.update_time");
        let update_time = match validate::opt_timestamp(&time_field, c.update_time.as_ref(), v) {
            Some(t) if !validate::not_in_future(&time_field, t, now, v) => None,
            Some(t) => Some(t),
            None if c.update_time.is_some() => None,
            None => Some(now),
        };
        let source = text(
            &format!("{f}.source"),
            &c.source,
            max_chars::CONSENT_SOURCE,
            false,
            v,
        );
        if let (Some(channel), Some(granted), Some(update_time)) = (channel, granted, update_time) {
            out.push(Consent {
                channel,
                granted,
                source,
                update_time,
            });
        }
    }
    out
}

pub(super) fn consent(c: &Consent) -> pb::Consent {
    pb::Consent {
        channel: code_of(CHANNELS, c.channel),
        state: consent_state(c.granted),
        source: c.source.clone(),
        update_time: Some(to_timestamp(c.update_time)),
    }
}

pub(crate) fn consent_state(granted: bool) -> i32 {
    if granted {
        pb::ConsentState::Granted as i32
    } else {
        pb::ConsentState::Revoked as i32
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{at, profile_violations};
    use super::*;

    #[test]
    fn consent_times_are_in_range() {
        let now = Utc::now().timestamp();
        let c = pb::Customer {
            consents: vec![
                pb::Consent {
                    channel: pb::Channel::Email as i32,
                    state: pb::ConsentState::Granted as i32,
                    update_time: at(now + 3600),
                    ..Default::default()
                },
                pb::Consent {
                    channel: pb::Channel::Sms as i32,
                    state: pb::ConsentState::Granted as i32,
                    update_time: at(validate::MAX_TIMESTAMP_SECONDS + 1),
                    ..Default::default()
                },
                pb::Consent {
                    channel: pb::Channel::Push as i32,
                    state: pb::ConsentState::Granted as i32,
                    update_time: at(validate::MIN_TIMESTAMP_SECONDS - 1),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        assert_eq!(
            profile_violations(&c),
            [
                "consents[0].update_time",
                "consents[1].update_time",
                "consents[2].update_time",
            ]
        );
    }
}
