//! What a write changed, as the events about it report it: the top-level fields of a
//! customer, and the consent decisions per channel.
use super::customer::{Channel, Consent, Customer, UPDATABLE_FIELDS};
use chrono::{DateTime, Utc};

/// The top-level customer fields (proto field names) that differ from `before` to `after`,
/// sorted; bookkeeping that every write moves (revision, update time) is left out.
pub fn changed_fields(before: &Customer, after: &Customer) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = UPDATABLE_FIELDS
        .iter()
        .copied()
        .filter(|path| {
            // A field differs when copying it from `after` changes `before`.
            let mut copy = before.profile.clone();
            copy.apply(after.profile.clone(), std::iter::once(*path));
            copy != before.profile
        })
        .collect();
    if before.state != after.state {
        out.push("state");
    }
    if before.merged_into != after.merged_into {
        out.push("merged_into");
    }
    if before.delete_time != after.delete_time {
        out.push("delete_time");
    }
    out.sort_unstable();
    out
}

/// A consent decision that changed on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentChange {
    pub channel: Channel,
    pub granted: bool,
    /// The decision before; `None` when there was none.
    pub previously_granted: Option<bool>,
    pub source: String,
    pub update_time: DateTime<Utc>,
}

/// The channels whose decision (granted or not) is new or different in `after`, in
/// `after`'s order. A consent dropped from the list is no decision, so it is not reported.
pub fn consent_changes(before: &[Consent], after: &[Consent]) -> Vec<ConsentChange> {
    after
        .iter()
        .filter_map(|now| {
            let previously_granted = before
                .iter()
                .find(|c| c.channel == now.channel)
                .map(|c| c.granted);
            (previously_granted != Some(now.granted)).then(|| ConsentChange {
                channel: now.channel,
                granted: now.granted,
                previously_granted,
                source: now.source.clone(),
                update_time: now.update_time,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LifecycleStage, Profile};

    fn consent(channel: Channel, granted: bool) -> Consent {
        Consent {
            channel,
            granted,
            source: "form".into(),
            update_time: Utc::now(),
        }
    }

    #[test]
    fn changed_fields_are_the_differing_ones_sorted() {
        let now = Utc::now();
        let before = Customer::new(
            Profile {
                display_name: "A".into(),
                ..Default::default()
            },
            now,
        );
        let mut after = before.clone();
        after.profile.lifecycle_stage = LifecycleStage::Active;
        after.profile.display_name = "B".into();
        after.revision += 1;
        after.update_time = now + chrono::Duration::seconds(1);
        assert_eq!(
            changed_fields(&before, &after),
            ["display_name", "lifecycle_stage"]
        );
        after.delete(now);
        assert_eq!(
            changed_fields(&before, &after),
            ["delete_time", "display_name", "lifecycle_stage", "state"]
        );
        assert!(changed_fields(&before, &before).is_empty());
    }

    #[test]
    fn only_new_or_flipped_decisions_are_consent_changes() {
        let before = [consent(Channel::Email, true), consent(Channel::Sms, false)];
        let after = [
            consent(Channel::Email, true),
            consent(Channel::Sms, true),
            consent(Channel::Push, false),
        ];
        let got: Vec<_> = consent_changes(&before, &after)
            .into_iter()
            .map(|c| (c.channel, c.granted, c.previously_granted))
            .collect();
        assert_eq!(
            got,
            [
                (Channel::Sms, true, Some(false)),
                (Channel::Push, false, None)
            ]
        );
        assert!(consent_changes(&after, &before[..1]).is_empty());
    }
}
