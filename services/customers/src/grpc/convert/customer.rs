//! A stored customer, and its audit log, to the wire.
use super::enums::{CHANNELS, GENDERS, LEVELS, STAGES, code_of};
use super::{address, attributes, consent, dates};
use crate::domain::{AuditEntry, Customer, CustomerState};
use crm_platform::validate::to_timestamp;
use crm_proto::customers as pb;

pub fn customer(c: &Customer) -> pb::Customer {
    let p = &c.profile;
    pb::Customer {
        name: c.id.name(),
        display_name: p.display_name.clone(),
        given_name: p.given_name.clone(),
        family_name: p.family_name.clone(),
        gender: code_of(GENDERS, p.gender),
        birth_date: p.birth_date.map(dates::date),
        primary_email: p
            .primary_email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        additional_emails: p
            .additional_emails
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect(),
        phones: p.phones.iter().map(|x| x.as_str().to_owned()).collect(),
        addresses: p.addresses.iter().map(address::address).collect(),
        preferred_channel: p
            .preferred_channel
            .map(|ch| code_of(CHANNELS, ch))
            .unwrap_or(0),
        language_code: p.language_code.clone(),
        time_zone: p.time_zone.clone(),
        tags: p.tags.iter().map(|t| t.as_str().to_owned()).collect(),
        attributes: attributes::attributes(&p.attributes),
        important_dates: p
            .important_dates
            .iter()
            .map(dates::important_date)
            .collect(),
        consents: p.consents.iter().map(consent::consent).collect(),
        lifecycle_stage: code_of(STAGES, p.lifecycle_stage),
        relationship_level: code_of(LEVELS, p.relationship_level),
        external_id: p.external_id.clone().unwrap_or_default(),
        state: match c.state {
            CustomerState::Active => pb::customer::State::Active,
            CustomerState::Deleted => pb::customer::State::Deleted,
            CustomerState::Merged => pb::customer::State::Merged,
            CustomerState::Erased => pb::customer::State::Erased,
        } as i32,
        merged_into: c.merged_into.map(|m| m.name()).unwrap_or_default(),
        create_time: Some(to_timestamp(c.create_time)),
        update_time: Some(to_timestamp(c.update_time)),
        delete_time: c.delete_time.map(to_timestamp),
        etag: c.etag(),
    }
}

pub fn audit(a: &AuditEntry) -> pb::AuditEntry {
    pb::AuditEntry {
        action: a.action.clone(),
        actor: a.actor.clone(),
        details: a.details.clone(),
        create_time: Some(to_timestamp(a.create_time)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::attributes::value_from_json;
    use super::super::profile_from_proto;
    use super::super::testing::limits;
    use super::*;
    use chrono::Utc;
    use crm_platform::Violations;
    use crm_proto::common as cpb;

    #[test]
    fn a_profile_round_trips() {
        let c = pb::Customer {
            display_name: "Li Wei".into(),
            primary_email: "LI@example.com".into(),
            phones: vec!["+86 138 0013 8000".into()],
            tags: vec!["VIP".into(), "vip".into()],
            time_zone: "Asia/Shanghai".into(),
            language_code: "zh-cn".into(),
            birth_date: Some(cpb::Date {
                year: 1990,
                month: 5,
                day: 1,
            }),
            attributes: Some(prost_types::Struct {
                fields: [(
                    "room".to_owned(),
                    value_from_json(&serde_json::json!("sea view")),
                )]
                .into_iter()
                .collect(),
            }),
            ..Default::default()
        };
        let mut v = Violations::new();
        let p = profile_from_proto(&c, &limits(), &mut v);
        assert!(v.is_empty(), "{v:?}");
        let back = customer(&Customer::new(p, Utc::now()));
        assert_eq!(back.primary_email, "li@example.com");
        assert_eq!(back.phones, ["+8613800138000"]);
        assert_eq!(back.tags, ["vip"]);
        assert_eq!(back.language_code, "zh-CN");
        assert_eq!(back.attributes, c.attributes);
        assert_eq!(back.birth_date, c.birth_date);
    }
}
