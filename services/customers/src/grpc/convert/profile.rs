//! The settable fields of a customer, parsed from the wire.
use super::enums::{CHANNELS, GENDERS, LEVELS, enum_field};
use super::{address, attributes, bounded, consent, dates, max_chars};
use crate::domain::{Email, Phone, Profile, Tag, contact};
use crate::settings::InputLimits;
use crm_platform::Violations;
use crm_platform::validate::text;
use crm_proto::customers as pb;

/// Parses the settable fields of a customer; output-only fields are ignored.
pub fn profile_from_proto(c: &pb::Customer, limits: &InputLimits, v: &mut Violations) -> Profile {
    use max_chars as max;
    let now = crate::domain::now();
    let mut p = Profile {
        display_name: text("display_name", &c.display_name, max::DISPLAY_NAME, false, v),
        given_name: text("given_name", &c.given_name, max::NAME_PART, false, v),
        family_name: text("family_name", &c.family_name, max::NAME_PART, false, v),
        gender: enum_field(c.gender, "gender", GENDERS, v).unwrap_or_default(),
        ..Profile::default()
    };
    p.birth_date = dates::birth_date(c.birth_date.as_ref(), now, v);
    if !c.primary_email.trim().is_empty() {
        p.primary_email = v.check("primary_email", Email::parse(&c.primary_email));
    }
    let emails = bounded(
        "additional_emails",
        &c.additional_emails,
        limits.max_emails,
        v,
    );
    for (i, e) in emails.iter().enumerate() {
        if let Some(e) = v.check(format!("additional_emails[{i}]"), Email::parse(e))
            && !p.additional_emails.contains(&e)
        {
            p.additional_emails.push(e);
        }
    }
    for (i, raw) in bounded("phones", &c.phones, limits.max_phones, v)
        .iter()
        .enumerate()
    {
        if let Some(ph) = v.check(format!("phones[{i}]"), Phone::parse(raw))
            && !p.phones.contains(&ph)
        {
            p.phones.push(ph);
        }
    }
    for (i, a) in bounded("addresses", &c.addresses, limits.max_addresses, v)
        .iter()
        .enumerate()
    {
        p.addresses.push(address::address_from_proto(
            a,
            &format!("addresses[{i}]"),
            v,
        ));
    }
    if c.preferred_channel != 0 {
        p.preferred_channel = enum_field(c.preferred_channel, "preferred_channel", CHANNELS, v);
    }
    if !c.language_code.is_empty()
        && let Some(tag) = v.check("language_code", contact::language_tag(&c.language_code))
    {
        p.language_code = tag;
    }
    if !c.time_zone.is_empty() {
        let mut tv = Violations::new();
        let tz = text("time_zone", &c.time_zone, max::TIME_ZONE, false, &mut tv);
        if !tv.is_empty() {
            v.extend_prefixed("", tv);
        } else if tz.parse::<chrono_tz::Tz>().is_ok() {
            p.time_zone = tz;
        } else {
            v.add(
                "time_zone",
                "must be an IANA time zone like \"Asia/Shanghai\"",
            );
        }
    }
    for (i, t) in bounded("tags", &c.tags, limits.max_tags, v)
        .iter()
        .enumerate()
    {
        if let Some(t) = v.check(format!("tags[{i}]"), Tag::parse(t)) {
            p.tags.push(t);
        }
    }
    p.tags.sort();
    p.tags.dedup();
    if let Some(s) = &c.attributes {
        p.attributes = attributes::attributes_from_proto(s, limits, v);
    }
    p.important_dates = dates::important_dates(&c.important_dates, limits, v);
    p.consents = consent::consents_from_proto(&c.consents, now, v);
    // Unset: the default stage (New).
    p.lifecycle_stage =
        super::enums::lifecycle_stage(c.lifecycle_stage, "lifecycle_stage", v).unwrap_or_default();
    p.relationship_level =
        enum_field(c.relationship_level, "relationship_level", LEVELS, v).unwrap_or_default();
    let external = text("external_id", &c.external_id, max::EXTERNAL_ID, false, v);
    p.external_id = (!external.is_empty()).then_some(external);
    p
}

#[cfg(test)]
mod tests {
    use super::super::attributes::value_from_json;
    use super::super::testing::{date, limits, profile_violations};
    use super::*;
    use crm_proto::common as cpb;

    #[test]
    fn every_bad_field_is_reported() {
        let c = pb::Customer {
            display_name: "Li Wei".into(),
            primary_email: "not-an-email".into(),
            phones: vec!["+8613800138000".into(), "12345".into()],
            time_zone: "Mars/Olympus".into(),
            consents: vec![pb::Consent {
                channel: 0,
                state: 0,
                ..Default::default()
            }],
            gender: 99,
            ..Default::default()
        };
        assert_eq!(
            profile_violations(&c),
            [
                "gender",
                "primary_email",
                "phones[1]",
                "time_zone",
                "consents[0].channel",
                "consents[0].state"
            ]
        );
    }

    #[test]
    fn every_text_field_refuses_control_characters_and_excess_length() {
        let nul = |s: &str| format!("{s}\0x");
        let c = pb::Customer {
            display_name: nul("Li"),
            given_name: "W".repeat(101),
            family_name: "Li\u{202E}".into(),
            primary_email: "li\u{202E}@example.com".into(),
            additional_emails: vec!["a\0@example.com".into()],
            phones: vec![nul("+8613800138000")],
            addresses: vec![cpb::PostalAddress {
                label: nul("home"),
                address_lines: vec![nul("1 Road"), "x".repeat(201)],
                locality: nul("Hangzhou"),
                administrative_area: nul("Zhejiang"),
                postal_code: "3".repeat(33),
                region_code: "C\0".into(),
                recipient: nul("Li"),
            }],
            language_code: nul("zh"),
            time_zone: nul("Asia/Shanghai"),
            tags: vec![nul("vip")],
            attributes: Some(prost_types::Struct {
                fields: [(
                    "room".to_owned(),
                    value_from_json(&serde_json::json!("sea\0view")),
                )]
                .into_iter()
                .collect(),
            }),
            important_dates: vec![pb::ImportantDate {
                kind: nul("wedding"),
                date: date(2015, 10, 1),
            }],
            consents: vec![pb::Consent {
                channel: pb::Channel::Email as i32,
                state: pb::ConsentState::Granted as i32,
                source: nul("web"),
                update_time: None,
            }],
            external_id: "e".repeat(129),
            ..Default::default()
        };
        assert_eq!(
            profile_violations(&c),
            [
                "display_name",
                "given_name",
                "family_name",
                "primary_email",
                "additional_emails[0]",
                "phones[0]",
                "addresses[0].region_code",
                "addresses[0].label",
                "addresses[0].address_lines[0]",
                "addresses[0].address_lines[1]",
                "addresses[0].locality",
                "addresses[0].administrative_area",
                "addresses[0].postal_code",
                "addresses[0].recipient",
                "language_code",
                "time_zone",
                "tags[0]",
                "attributes.room",
                "important_dates[0].kind",
                "consents[0].source",
                "external_id",
            ]
        );
    }

    #[test]
    fn lists_are_bounded_by_the_settings() {
        let l = limits();
        let many = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>();
        let c = pb::Customer {
            display_name: "Li".into(),
            additional_emails: many(l.max_emails + 1, &|i| format!("a{i}@example.com")),
            phones: many(l.max_phones + 1, &|_| "+8613800138000".into()),
            addresses: vec![
                cpb::PostalAddress {
                    region_code: "CN".into(),
                    ..Default::default()
                };
                l.max_addresses + 1
            ],
            tags: many(l.max_tags + 1, &|i| format!("t{i}")),
            important_dates: vec![
                pb::ImportantDate {
                    kind: "k".into(),
                    date: date(2000, 1, 1),
                };
                l.max_important_dates + 1
            ],
            consents: vec![pb::Consent::default(); 5],
            ..Default::default()
        };
        assert_eq!(
            profile_violations(&c),
            [
                "additional_emails",
                "phones",
                "addresses",
                "tags",
                "important_dates",
                "consents"
            ]
        );
        let lines = pb::Customer {
            addresses: vec![cpb::PostalAddress {
                region_code: "CN".into(),
                address_lines: vec!["a".into(); 6],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(profile_violations(&lines), ["addresses[0].address_lines"]);
    }
}
