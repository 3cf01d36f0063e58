//! A customer on the wire as a caller without `customers.pii.read` sees it: personal values
//! masked (see `domain::masking`), everything else (ids, state, tags, consents, lifecycle,
//! times, etag) as is, so lists and workflows keep working.
use crate::domain::masking;
use crm_proto::customers as pb;

/// An activity as such a caller sees it: its free text and reference hidden; kind, time,
/// amount and items as they are.
pub fn masked_activity(mut a: pb::Activity) -> pb::Activity {
    a.text = masking::hidden(&a.text);
    a.reference = masking::hidden(&a.reference);
    a
}

pub fn masked(mut c: pb::Customer) -> pb::Customer {
    c.display_name = masking::name(&c.display_name);
    c.given_name = masking::name(&c.given_name);
    c.family_name = masking::name(&c.family_name);
    c.birth_date = None;
    c.primary_email = mask_email(&c.primary_email);
    c.additional_emails = c.additional_emails.iter().map(|e| mask_email(e)).collect();
    c.phones = c.phones.iter().map(|p| masking::phone(p)).collect();
    for a in &mut c.addresses {
        // Country, region and city stay (routing, reporting); what locates the person goes.
        for line in &mut a.address_lines {
            *line = masking::hidden(line);
        }
        a.postal_code = masking::hidden(&a.postal_code);
        a.recipient = masking::name(&a.recipient);
    }
    c.attributes = None;
    c.important_dates.clear();
    c
}

fn mask_email(e: &str) -> String {
    if e.is_empty() {
        String::new()
    } else {
        masking::email(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_proto::common as cpb;

    #[test]
    fn every_personal_field_is_masked_and_the_rest_kept() {
        let c = pb::Customer {
            name: "customers/0190".into(),
            display_name: "Li Wei".into(),
            given_name: "Wei".into(),
            family_name: "Li".into(),
            birth_date: Some(cpb::Date {
                year: 1990,
                month: 5,
                day: 1,
            }),
            primary_email: "li.wei@example.com".into(),
            additional_emails: vec!["wei@work.example.cn".into()],
            phones: vec!["+8613800138000".into()],
            addresses: vec![cpb::PostalAddress {
                label: "home".into(),
                address_lines: vec!["No. 1 Jianguo Road".into()],
                locality: "Beijing".into(),
                administrative_area: "Beijing".into(),
                postal_code: "100000".into(),
                region_code: "CN".into(),
                recipient: "Li Wei".into(),
            }],
            attributes: Some(prost_types::Struct::default()),
            important_dates: vec![pb::ImportantDate {
                kind: "wedding".into(),
                date: None,
            }],
            tags: vec!["vip".into()],
            etag: "e1".into(),
            ..Default::default()
        };
        let m = masked(c.clone());
        assert_eq!(m.display_name, "L*****");
        assert_eq!(m.given_name, "W**");
        assert_eq!(m.family_name, "L*");
        assert_eq!(m.birth_date, None);
        assert_eq!(m.primary_email, "l***@example.com");
        assert_eq!(m.additional_emails, ["w***@work.example.cn"]);
        assert_eq!(m.phones, ["+86 138****8000"]);
        let a = &m.addresses[0];
        assert_eq!(a.address_lines, ["***"]);
        assert_eq!(a.postal_code, "***");
        assert_eq!(a.recipient, "L*****");
        assert_eq!(
            (
                a.label.as_str(),
                a.locality.as_str(),
                a.region_code.as_str()
            ),
            ("home", "Beijing", "CN")
        );
        assert_eq!(m.attributes, None);
        assert!(m.important_dates.is_empty());
        assert_eq!((m.name, m.tags, m.etag), (c.name, c.tags, c.etag));
    }

    #[test]
    fn empty_fields_stay_empty() {
        let m = masked(pb::Customer::default());
        assert_eq!(m, pb::Customer::default());
    }
}
