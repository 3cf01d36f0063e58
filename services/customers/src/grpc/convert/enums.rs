//! Proto enum numbers <-> domain enums, one table per enum.
use crate::domain::{ActivityKind, Channel, Gender, LifecycleStage, RelationshipLevel};
use crm_platform::Violations;
use crm_proto::customers as pb;

pub(super) fn enum_field<T: Copy>(
    raw: i32,
    field: &str,
    table: &[(i32, T)],
    v: &mut Violations,
) -> Option<T> {
    let found = table.iter().find(|(n, _)| *n == raw).map(|(_, t)| *t);
    if found.is_none() {
        v.add(field, format!("{raw} is not a known value"));
    }
    found
}

pub(super) const GENDERS: &[(i32, Gender)] = &[
    (pb::Gender::Unspecified as i32, Gender::Unspecified),
    (pb::Gender::Female as i32, Gender::Female),
    (pb::Gender::Male as i32, Gender::Male),
    (pb::Gender::Other as i32, Gender::Other),
    (pb::Gender::Undisclosed as i32, Gender::Undisclosed),
];
pub(crate) const CHANNELS: &[(i32, Channel)] = &[
    (pb::Channel::Email as i32, Channel::Email),
    (pb::Channel::Sms as i32, Channel::Sms),
    (pb::Channel::Push as i32, Channel::Push),
    (pb::Channel::Phone as i32, Channel::Phone),
];
/// No Unspecified row: unset on input is "not given" ([`lifecycle_stage`]), and `New` goes
/// out as NEW, not as UNSPECIFIED.
pub(crate) const STAGES: &[(i32, LifecycleStage)] = &[
    (pb::LifecycleStage::Lead as i32, LifecycleStage::Lead),
    (pb::LifecycleStage::New as i32, LifecycleStage::New),
    (pb::LifecycleStage::Active as i32, LifecycleStage::Active),
    (pb::LifecycleStage::AtRisk as i32, LifecycleStage::AtRisk),
    (pb::LifecycleStage::Churned as i32, LifecycleStage::Churned),
];
pub(super) const LEVELS: &[(i32, RelationshipLevel)] = &[
    (
        pb::RelationshipLevel::Unspecified as i32,
        RelationshipLevel::Unspecified,
    ),
    (
        pb::RelationshipLevel::Basic as i32,
        RelationshipLevel::Basic,
    ),
    (
        pb::RelationshipLevel::Passive as i32,
        RelationshipLevel::Passive,
    ),
    (
        pb::RelationshipLevel::Responsible as i32,
        RelationshipLevel::Responsible,
    ),
    (
        pb::RelationshipLevel::Proactive as i32,
        RelationshipLevel::Proactive,
    ),
    (
        pb::RelationshipLevel::Partner as i32,
        RelationshipLevel::Partner,
    ),
];
pub(crate) const KINDS: &[(i32, ActivityKind)] = &[
    (pb::ActivityKind::Purchase as i32, ActivityKind::Purchase),
    (pb::ActivityKind::View as i32, ActivityKind::View),
    (pb::ActivityKind::Search as i32, ActivityKind::Search),
    (pb::ActivityKind::Review as i32, ActivityKind::Review),
    (pb::ActivityKind::Inquiry as i32, ActivityKind::Inquiry),
    (pb::ActivityKind::Complaint as i32, ActivityKind::Complaint),
    (pb::ActivityKind::Booking as i32, ActivityKind::Booking),
    (pb::ActivityKind::Refund as i32, ActivityKind::Refund),
];

pub(crate) fn code_of<T: Copy + PartialEq>(table: &[(i32, T)], value: T) -> i32 {
    table
        .iter()
        .find(|(_, t)| *t == value)
        .map(|(n, _)| *n)
        .unwrap_or(0)
}

pub fn lifecycle_stage(raw: i32, field: &str, v: &mut Violations) -> Option<LifecycleStage> {
    if raw == 0 {
        return None;
    }
    enum_field(raw, field, STAGES, v)
}

pub fn activity_kind(raw: i32, field: &str, v: &mut Violations) -> Option<ActivityKind> {
    if raw == 0 {
        return None;
    }
    enum_field(raw, field, KINDS, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_activity_kind_has_one_wire_value_and_back() {
        for kind in ActivityKind::ALL {
            let n = code_of(KINDS, kind);
            assert_ne!(n, 0, "{kind:?} has a wire value");
            assert_eq!(KINDS.iter().filter(|(_, k)| *k == kind).count(), 1);
            assert_eq!(activity_kind(n, "kind", &mut Violations::new()), Some(kind));
        }
        // Every value the proto defines (but UNSPECIFIED) is parsed.
        for n in (1..64).filter(|n| pb::ActivityKind::try_from(*n).is_ok()) {
            assert!(KINDS.iter().any(|(k, _)| *k == n), "{n} has a domain kind");
        }
        assert_eq!(
            code_of(KINDS, ActivityKind::Refund),
            pb::ActivityKind::Refund as i32
        );
    }

    #[test]
    fn every_stage_goes_out_as_its_own_wire_value_and_unset_is_not_given() {
        for (n, stage) in STAGES {
            let out = code_of(STAGES, *stage);
            assert_ne!(out, pb::LifecycleStage::Unspecified as i32, "{stage:?}");
            assert_eq!(
                lifecycle_stage(out, "stage", &mut Violations::new()),
                Some(*stage)
            );
            assert_eq!(
                lifecycle_stage(*n, "stage", &mut Violations::new()),
                Some(*stage)
            );
        }
        assert_eq!(
            code_of(STAGES, LifecycleStage::New),
            pb::LifecycleStage::New as i32
        );
    }
}
