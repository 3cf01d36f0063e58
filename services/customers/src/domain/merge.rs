//! Merging duplicates: the survivor chosen by the caller keeps its values; empty fields are
//! filled from the merged-away customers; lists are united; for consent the latest decision
//! per channel wins (a revocation is never lost to an older grant).
use super::CustomerId;
use super::customer::{Gender, Profile};
use crm_platform::Violations;

/// Checks who takes part in a merge: at least one and at most `max` customers to merge away,
/// none of them the survivor, none named twice.
pub fn check_parties(survivor: CustomerId, merged: &[CustomerId], max: usize, v: &mut Violations) {
    if merged.is_empty() {
        v.add(
            "merged",
            "name at least one customer to merge into the survivor",
        );
    }
    if merged.len() > max {
        v.add("merged", format!("at most {max} customers"));
    }
    for (i, m) in merged.iter().enumerate() {
        if *m == survivor {
            v.add(format!("merged[{i}]"), "is the survivor");
        } else if merged[..i].contains(m) {
            v.add(format!("merged[{i}]"), "appears twice");
        }
    }
}

pub fn merge_profiles(survivor: &Profile, merged: &[&Profile]) -> Profile {
    let mut out = survivor.clone();
    for m in merged {
        fill(&mut out.given_name, &m.given_name);
        fill(&mut out.family_name, &m.family_name);
        fill(&mut out.language_code, &m.language_code);
        fill(&mut out.time_zone, &m.time_zone);
        if out.gender == Gender::Unspecified {
            out.gender = m.gender;
        }
        out.birth_date = out.birth_date.or(m.birth_date);
        out.preferred_channel = out.preferred_channel.or(m.preferred_channel);
        for e in m.emails() {
            if out.primary_email.is_none() {
                out.primary_email = Some(e.clone());
            } else if out.primary_email.as_ref() != Some(e) && !out.additional_emails.contains(e) {
                out.additional_emails.push(e.clone());
            }
        }
        union(&mut out.phones, &m.phones);
        union(&mut out.addresses, &m.addresses);
        union(&mut out.tags, &m.tags);
        for (k, v) in &m.attributes {
            out.attributes.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for d in &m.important_dates {
            if !out.important_dates.iter().any(|x| x.kind == d.kind) {
                out.important_dates.push(d.clone());
            }
        }
        for c in &m.consents {
            match out.consents.iter_mut().find(|x| x.channel == c.channel) {
                Some(x) if x.update_time < c.update_time => *x = c.clone(),
                Some(_) => {}
                None => out.consents.push(c.clone()),
            }
        }
        out.relationship_level = out.relationship_level.max(m.relationship_level);
    }
    out.tags.sort();
    out.tags.dedup();
    out
}

fn fill(target: &mut String, from: &str) {
    if target.is_empty() {
        from.clone_into(target);
    }
}

fn union<T: Clone + PartialEq>(target: &mut Vec<T>, from: &[T]) {
    for x in from {
        if !target.contains(x) {
            target.push(x.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::{Channel, Consent, RelationshipLevel};
    use crate::domain::{Email, Phone, Tag};
    use chrono::{TimeZone, Utc};

    #[test]
    fn merge_parties_are_checked() {
        let id = |n| CustomerId(uuid::Uuid::from_u128(n));
        let (s, a, b) = (id(1), id(2), id(3));
        let table: [(&[CustomerId], usize, &[&str]); 6] = [
            (&[a], 2, &[]),
            (&[a, b], 2, &[]),
            (&[], 2, &["merged"]),
            (&[a, b], 1, &["merged"]),
            (&[a, s], 2, &["merged[1]"]),
            (&[a, b, a, s], 3, &["merged", "merged[2]", "merged[3]"]),
        ];
        for (merged, max, want) in table {
            let mut v = Violations::new();
            check_parties(s, merged, max, &mut v);
            let fields: Vec<_> = v.iter().map(|x| x.field.clone()).collect();
            assert_eq!(fields, want, "{merged:?} max {max}");
        }
    }

    fn email(s: &str) -> Email {
        Email::parse(s).expect("email")
    }

    #[test]
    fn survivor_wins_and_gaps_are_filled() {
        let t = |d| {
            Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0)
                .single()
                .expect("date")
        };
        let survivor = Profile {
            display_name: "Li Wei".into(),
            primary_email: Some(email("a@x.com")),
            tags: vec![Tag::parse("vip").expect("tag")],
            consents: vec![Consent {
                channel: Channel::Email,
                granted: true,
                source: "old".into(),
                update_time: t(1),
            }],
            relationship_level: RelationshipLevel::Basic,
            ..Default::default()
        };
        let other = Profile {
            display_name: "W. Li".into(),
            given_name: "Wei".into(),
            primary_email: Some(email("b@x.com")),
            additional_emails: vec![email("a@x.com")],
            phones: vec![Phone::parse("+8613800138000").expect("phone")],
            tags: vec![
                Tag::parse("hotel").expect("tag"),
                Tag::parse("vip").expect("tag"),
            ],
            consents: vec![Consent {
                channel: Channel::Email,
                granted: false,
                source: "unsubscribe".into(),
                update_time: t(2),
            }],
            relationship_level: RelationshipLevel::Partner,
            ..Default::default()
        };
        let m = merge_profiles(&survivor, &[&other]);
        assert_eq!(m.display_name, "Li Wei");
        assert_eq!(m.given_name, "Wei");
        assert_eq!(m.primary_email, Some(email("a@x.com")));
        assert_eq!(m.additional_emails, vec![email("b@x.com")]);
        assert_eq!(m.phones.len(), 1);
        assert_eq!(
            m.tags.iter().map(Tag::as_str).collect::<Vec<_>>(),
            ["hotel", "vip"]
        );
        assert!(!m.consents[0].granted, "the later revocation wins");
        assert_eq!(m.relationship_level, RelationshipLevel::Partner);
    }
}
