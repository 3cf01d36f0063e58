//! customers' answer -> what the read model keeps of it.
use crate::domain::CustomerId;
use crate::domain::member::{ConsentFact, Profile, Snapshot, SnapshotState};
use crate::store::members::attribute_value_text;
use chrono::{DateTime, Utc};
use crm_proto::common::Date;
use crm_proto::customers::{self as cpb, ConsentState, customer::State};

/// A `google.protobuf.Value` as JSON (numbers are f64 on the wire).
fn json_of(v: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match &v.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => (*b).into(),
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(*n)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Some(Kind::StringValue(s)) => s.clone().into(),
        Some(Kind::ListValue(l)) => l.values.iter().map(json_of).collect(),
        Some(Kind::StructValue(s)) => s
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), json_of(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// (month, day) of a date with a valid month and day.
fn month_day(d: Option<&Date>) -> Option<(i16, i16)> {
    let d = d?;
    let (m, day) = (i16::try_from(d.month).ok()?, i16::try_from(d.day).ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&day)).then_some((m, day))
}

fn time(t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let t = t?;
    let at = DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)?;
    use chrono::{DurationRound, TimeDelta};
    Some(at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at))
}

/// What customers' record of `asked` says. `fallback_time` dates consents without a time.
pub fn snapshot(asked: CustomerId, c: &cpb::Customer, fallback_time: DateTime<Utc>) -> Snapshot {
    let answered = CustomerId::parse_name(&c.name).ok();
    let merged_into = CustomerId::parse_name(&c.merged_into).ok();
    let state = match (State::try_from(c.state), answered, merged_into) {
        // BatchGetCustomers answers a merged name with its survivor.
        (_, Some(a), _) if a != asked => SnapshotState::Merged(a),
        (Ok(State::Merged), _, Some(into)) => SnapshotState::Merged(into),
        (Ok(State::Deleted), _, _) => SnapshotState::Deleted,
        (Ok(State::Erased), _, _) => SnapshotState::Erased,
        _ => SnapshotState::Active,
    };
    let attributes = c
        .attributes
        .iter()
        .flat_map(|s| s.fields.iter())
        .filter_map(|(k, v)| Some((k.clone(), attribute_value_text(&json_of(v))?)))
        .collect();
    Snapshot {
        profile: Profile {
            given_name: c.given_name.clone(),
            family_name: c.family_name.clone(),
            display_name: c.display_name.clone(),
            primary_email: c.primary_email.clone(),
            phone: c.phones.first().cloned().unwrap_or_default(),
        },
        state,
        language_code: c.language_code.clone(),
        time_zone: c.time_zone.clone(),
        lifecycle_stage: c.lifecycle_stage,
        birthday: month_day(c.birth_date.as_ref()),
        tags: c.tags.clone(),
        attributes,
        dates: c
            .important_dates
            .iter()
            .filter(|d| !d.kind.is_empty())
            .filter_map(|d| {
                let (m, day) = month_day(d.date.as_ref())?;
                Some((d.kind.clone(), m, day))
            })
            .collect(),
        consents: c
            .consents
            .iter()
            .filter(|k| k.state != ConsentState::Unspecified as i32)
            .map(|k| ConsentFact {
                channel: k.channel,
                granted: k.state == ConsentState::Granted as i32,
                time: time(k.update_time.as_ref()).unwrap_or(fallback_time),
            })
            .collect(),
        rfm_segment: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_customer_record_becomes_traits_and_a_profile() {
        let id = CustomerId::generate();
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let mut fields = std::collections::BTreeMap::new();
        fields.insert(
            "size".to_owned(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::NumberValue(42.0)),
            },
        );
        let c = cpb::Customer {
            name: id.name(),
            given_name: "Wei".into(),
            primary_email: "wei@example.com".into(),
            phones: vec!["+8613800000000".into(), "+8613900000000".into()],
            birth_date: Some(Date {
                year: 1990,
                month: 2,
                day: 29,
            }),
            tags: vec!["vip".into()],
            attributes: Some(prost_types::Struct { fields }),
            important_dates: vec![cpb::ImportantDate {
                kind: "anniversary".into(),
                date: Some(Date {
                    year: 0,
                    month: 13,
                    day: 1,
                }),
            }],
            consents: vec![cpb::Consent {
                channel: cpb::Channel::Email as i32,
                state: ConsentState::Revoked as i32,
                ..Default::default()
            }],
            state: State::Active as i32,
            ..Default::default()
        };
        let s = snapshot(id, &c, at);
        assert_eq!(s.state, SnapshotState::Active);
        assert_eq!(s.profile.phone, "+8613800000000");
        assert_eq!(s.birthday, Some((2, 29)));
        assert_eq!(s.attributes, vec![("size".into(), "42".into())]);
        assert!(s.dates.is_empty(), "month 13 is no date");
        assert_eq!(
            s.consents,
            vec![ConsentFact {
                channel: cpb::Channel::Email as i32,
                granted: false,
                time: at
            }]
        );
        let tombstone = cpb::Customer {
            state: State::Erased as i32,
            ..c.clone()
        };
        assert_eq!(snapshot(id, &tombstone, at).state, SnapshotState::Erased);
        let survivor = CustomerId::generate();
        let merged = cpb::Customer {
            name: survivor.name(),
            ..c
        };
        assert_eq!(
            snapshot(id, &merged, at).state,
            SnapshotState::Merged(survivor)
        );
    }
}
