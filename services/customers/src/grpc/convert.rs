//! proto <-> domain. Parsing collects every violation with its proto field path; the
//! adapter prefixes the request field (e.g. `customer.`).
use crate::domain::insights::Insights;
use crate::domain::{
    Activity, ActivityKind, AuditEntry, Channel, Consent, Customer, CustomerId, CustomerState,
    Email, Gender, ImportantDate, LifecycleStage, Money, Phone, PostalAddress, Profile,
    PurchaseItem, RelationshipLevel, Tag,
};
use crate::service::InsightsReport;
use chrono::{DateTime, NaiveDate, Utc};
use crm_platform::Violations;
use crm_platform::grpc::text;
use crm_proto::common as cpb;
use crm_proto::customers as pb;

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn time_from(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// An optional timestamp field; a bad one is a violation.
pub fn opt_time(
    t: Option<&prost_types::Timestamp>,
    field: &str,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    let t = t?;
    let parsed = time_from(t);
    if parsed.is_none() {
        v.add(field, "is not a valid timestamp");
    }
    parsed
}

fn date_from(d: &cpb::Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        d.year,
        u32::try_from(d.month).ok()?,
        u32::try_from(d.day).ok()?,
    )
}

fn date(d: NaiveDate) -> cpb::Date {
    use chrono::Datelike;
    cpb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

fn money_from(m: &cpb::Money, field: &str, v: &mut Violations) -> Option<Money> {
    v.check(
        format!("{field}.currency_code"),
        Money::parse(&m.currency_code, m.amount_minor),
    )
}

pub fn money(m: &Money) -> cpb::Money {
    cpb::Money {
        currency_code: m.currency.clone(),
        amount_minor: m.amount_minor,
    }
}

fn enum_field<T: Copy>(raw: i32, field: &str, table: &[(i32, T)], v: &mut Violations) -> Option<T> {
    let found = table.iter().find(|(n, _)| *n == raw).map(|(_, t)| *t);
    if found.is_none() {
        v.add(field, format!("{raw} is not a known value"));
    }
    found
}

const GENDERS: &[(i32, Gender)] = &[
    (pb::Gender::Unspecified as i32, Gender::Unspecified),
    (pb::Gender::Female as i32, Gender::Female),
    (pb::Gender::Male as i32, Gender::Male),
    (pb::Gender::Other as i32, Gender::Other),
    (pb::Gender::Undisclosed as i32, Gender::Undisclosed),
];
const CHANNELS: &[(i32, Channel)] = &[
    (pb::Channel::Email as i32, Channel::Email),
    (pb::Channel::Sms as i32, Channel::Sms),
    (pb::Channel::Push as i32, Channel::Push),
    (pb::Channel::Phone as i32, Channel::Phone),
];
const STAGES: &[(i32, LifecycleStage)] = &[
    (pb::LifecycleStage::Unspecified as i32, LifecycleStage::New),
    (pb::LifecycleStage::Lead as i32, LifecycleStage::Lead),
    (pb::LifecycleStage::New as i32, LifecycleStage::New),
    (pb::LifecycleStage::Active as i32, LifecycleStage::Active),
    (pb::LifecycleStage::AtRisk as i32, LifecycleStage::AtRisk),
    (pb::LifecycleStage::Churned as i32, LifecycleStage::Churned),
];
const LEVELS: &[(i32, RelationshipLevel)] = &[
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
const KINDS: &[(i32, ActivityKind)] = &[
    (pb::ActivityKind::Purchase as i32, ActivityKind::Purchase),
    (pb::ActivityKind::View as i32, ActivityKind::View),
    (pb::ActivityKind::Search as i32, ActivityKind::Search),
    (pb::ActivityKind::Review as i32, ActivityKind::Review),
    (pb::ActivityKind::Inquiry as i32, ActivityKind::Inquiry),
    (pb::ActivityKind::Complaint as i32, ActivityKind::Complaint),
    (pb::ActivityKind::Booking as i32, ActivityKind::Booking),
];

fn code_of<T: Copy + PartialEq>(table: &[(i32, T)], value: T) -> i32 {
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

fn valid_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let first = parts.next().unwrap_or_default();
    (2..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Parses the settable fields of a customer; output-only fields are ignored.
pub fn profile_from_proto(c: &pb::Customer, v: &mut Violations) -> Profile {
    let now = crate::domain::now();
    let mut p = Profile {
        display_name: text("display_name", &c.display_name, 200, false, v),
        given_name: text("given_name", &c.given_name, 100, false, v),
        family_name: text("family_name", &c.family_name, 100, false, v),
        gender: enum_field(c.gender, "gender", GENDERS, v).unwrap_or_default(),
        ..Profile::default()
    };
    if let Some(d) = &c.birth_date {
        match date_from(d) {
            Some(d) if d > now.date_naive() => v.add("birth_date", "must not be in the future"),
            Some(d) => p.birth_date = Some(d),
            None => v.add("birth_date", "is not a valid date"),
        }
    }
    if !c.primary_email.trim().is_empty() {
        p.primary_email = v.check("primary_email", Email::parse(&c.primary_email));
    }
    for (i, e) in c.additional_emails.iter().enumerate() {
        if let Some(e) = v.check(format!("additional_emails[{i}]"), Email::parse(e))
            && !p.additional_emails.contains(&e)
        {
            p.additional_emails.push(e);
        }
    }
    for (i, raw) in c.phones.iter().enumerate() {
        if let Some(ph) = v.check(format!("phones[{i}]"), Phone::parse(raw))
            && !p.phones.contains(&ph)
        {
            p.phones.push(ph);
        }
    }
    for (i, a) in c.addresses.iter().enumerate() {
        let f = format!("addresses[{i}]");
        if !(a.region_code.len() == 2 && a.region_code.chars().all(|c| c.is_ascii_uppercase())) {
            v.add(
                format!("{f}.region_code"),
                "must be a two-letter CLDR region code, e.g. \"CN\"",
            );
        }
        if a.address_lines.len() > 5 {
            v.add(format!("{f}.address_lines"), "at most 5 lines");
        }
        p.addresses.push(PostalAddress {
            label: text(&format!("{f}.label"), &a.label, 64, false, v),
            address_lines: a
                .address_lines
                .iter()
                .map(|l| l.trim().to_owned())
                .collect(),
            locality: a.locality.trim().to_owned(),
            administrative_area: a.administrative_area.trim().to_owned(),
            postal_code: a.postal_code.trim().to_owned(),
            region_code: a.region_code.clone(),
            recipient: a.recipient.trim().to_owned(),
        });
    }
    if c.preferred_channel != 0 {
        p.preferred_channel = enum_field(c.preferred_channel, "preferred_channel", CHANNELS, v);
    }
    if !c.language_code.is_empty() {
        if valid_language(&c.language_code) {
            p.language_code = c.language_code.clone();
        } else {
            v.add("language_code", "must be a BCP-47 tag like \"zh-CN\"");
        }
    }
    if !c.time_zone.is_empty() {
        if c.time_zone.parse::<chrono_tz::Tz>().is_ok() {
            p.time_zone = c.time_zone.clone();
        } else {
            v.add(
                "time_zone",
                "must be an IANA time zone like \"Asia/Shanghai\"",
            );
        }
    }
    for (i, t) in c.tags.iter().enumerate() {
        if let Some(t) = v.check(format!("tags[{i}]"), Tag::parse(t)) {
            p.tags.push(t);
        }
    }
    p.tags.sort();
    p.tags.dedup();
    if let Some(s) = &c.attributes {
        p.attributes = s
            .fields
            .iter()
            .map(|(k, val)| (k.clone(), json_from_value(val)))
            .collect();
    }
    for (i, d) in c.important_dates.iter().enumerate() {
        let f = format!("important_dates[{i}]");
        let kind = d.kind.trim();
        if kind.is_empty() || kind.len() > 64 {
            v.add(format!("{f}.kind"), "is required (at most 64 characters)");
        }
        match d.date.as_ref().and_then(date_from) {
            Some(date) => p.important_dates.push(ImportantDate {
                kind: kind.to_owned(),
                date,
            }),
            None => v.add(format!("{f}.date"), "is required and must be a valid date"),
        }
    }
    for (i, c) in c.consents.iter().enumerate() {
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
        let update_time =
            opt_time(c.update_time.as_ref(), &format!("{f}.update_time"), v).unwrap_or(now);
        if let (Some(channel), Some(granted)) = (channel, granted) {
            p.consents.push(Consent {
                channel,
                granted,
                source: text(&format!("{f}.source"), &c.source, 128, false, v),
                update_time,
            });
        }
    }
    p.lifecycle_stage =
        enum_field(c.lifecycle_stage, "lifecycle_stage", STAGES, v).unwrap_or_default();
    p.relationship_level =
        enum_field(c.relationship_level, "relationship_level", LEVELS, v).unwrap_or_default();
    let external = text("external_id", &c.external_id, 128, false, v);
    p.external_id = (!external.is_empty()).then_some(external);
    p
}

fn json_from_value(v: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match &v.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(*n)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(Kind::StructValue(s)) => serde_json::Value::Object(
            s.fields
                .iter()
                .map(|(k, v)| (k.clone(), json_from_value(v)))
                .collect(),
        ),
        Some(Kind::ListValue(l)) => {
            serde_json::Value::Array(l.values.iter().map(json_from_value).collect())
        }
    }
}

fn value_from_json(v: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(value_from_json).collect(),
        }),
        serde_json::Value::Object(o) => Kind::StructValue(prost_types::Struct {
            fields: o
                .iter()
                .map(|(k, v)| (k.clone(), value_from_json(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

pub fn customer(c: &Customer) -> pb::Customer {
    let p = &c.profile;
    pb::Customer {
        name: c.id.name(),
        display_name: p.display_name.clone(),
        given_name: p.given_name.clone(),
        family_name: p.family_name.clone(),
        gender: code_of(GENDERS, p.gender),
        birth_date: p.birth_date.map(date),
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
        addresses: p
            .addresses
            .iter()
            .map(|a| cpb::PostalAddress {
                label: a.label.clone(),
                address_lines: a.address_lines.clone(),
                locality: a.locality.clone(),
                administrative_area: a.administrative_area.clone(),
                postal_code: a.postal_code.clone(),
                region_code: a.region_code.clone(),
                recipient: a.recipient.clone(),
            })
            .collect(),
        preferred_channel: p
            .preferred_channel
            .map(|ch| code_of(CHANNELS, ch))
            .unwrap_or(0),
        language_code: p.language_code.clone(),
        time_zone: p.time_zone.clone(),
        tags: p.tags.iter().map(|t| t.as_str().to_owned()).collect(),
        attributes: (!p.attributes.is_empty()).then(|| prost_types::Struct {
            fields: p
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), value_from_json(v)))
                .collect(),
        }),
        important_dates: p
            .important_dates
            .iter()
            .map(|d| pb::ImportantDate {
                kind: d.kind.clone(),
                date: Some(date(d.date)),
            })
            .collect(),
        consents: p
            .consents
            .iter()
            .map(|x| pb::Consent {
                channel: code_of(CHANNELS, x.channel),
                state: if x.granted {
                    pb::ConsentState::Granted as i32
                } else {
                    pb::ConsentState::Revoked as i32
                },
                source: x.source.clone(),
                update_time: Some(timestamp(x.update_time)),
            })
            .collect(),
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
        create_time: Some(timestamp(c.create_time)),
        update_time: Some(timestamp(c.update_time)),
        delete_time: c.delete_time.map(timestamp),
        etag: c.etag(),
    }
}

/// Parses an activity; id, customer and create time are set by the service.
pub fn activity_from_proto(
    a: &pb::Activity,
    customer_id: CustomerId,
    v: &mut Violations,
) -> Option<Activity> {
    let kind = if a.kind == 0 {
        v.add("kind", "is required");
        None
    } else {
        enum_field(a.kind, "kind", KINDS, v)
    };
    let occur_time = match &a.occur_time {
        None => {
            v.add("occur_time", "is required");
            None
        }
        Some(t) => opt_time(Some(t), "occur_time", v),
    };
    let amount = a.amount.as_ref().and_then(|m| money_from(m, "amount", v));
    let mut items = Vec::new();
    for (i, it) in a.items.iter().enumerate() {
        let unit_price = it
            .unit_price
            .as_ref()
            .and_then(|m| money_from(m, &format!("items[{i}].unit_price"), v));
        items.push(PurchaseItem {
            item_id: it.item_id.trim().to_owned(),
            quantity: it.quantity,
            unit_price,
        });
    }
    Some(Activity {
        id: uuid::Uuid::nil(),
        customer: customer_id,
        kind: kind?,
        occur_time: occur_time?,
        channel: text("channel", &a.channel, 64, false, v),
        amount,
        items,
        reference: text("reference", &a.reference, 128, false, v),
        text: a.text.clone(),
        item_id: text("item_id", &a.item_id, 128, false, v),
        rating: a.rating,
        create_time: crate::domain::now(),
    })
}

pub fn activity(a: &Activity) -> pb::Activity {
    pb::Activity {
        name: a.name(),
        kind: code_of(KINDS, a.kind),
        occur_time: Some(timestamp(a.occur_time)),
        channel: a.channel.clone(),
        amount: a.amount.as_ref().map(money),
        items: a
            .items
            .iter()
            .map(|i| pb::PurchaseItem {
                item_id: i.item_id.clone(),
                quantity: i.quantity,
                unit_price: i.unit_price.as_ref().map(money),
            })
            .collect(),
        reference: a.reference.clone(),
        text: a.text.clone(),
        item_id: a.item_id.clone(),
        rating: a.rating,
        create_time: Some(timestamp(a.create_time)),
    }
}

pub fn insights(r: &InsightsReport) -> pb::CustomerInsights {
    let i: &Insights = &r.insights;
    pb::CustomerInsights {
        customer: r.customer.name(),
        recency_score: i.recency,
        frequency_score: i.frequency,
        monetary_score: i.monetary,
        segment: i.segment.to_owned(),
        order_count: r.summary.order_count,
        total_spend: r.summary.totals.iter().map(money).collect(),
        average_order_value: i.average_order.as_ref().map(money),
        last_purchase_time: r.summary.last_purchase.map(timestamp),
        first_purchase_time: r.summary.first_purchase.map(timestamp),
        days_since_last_purchase: i
            .days_since_last_purchase
            .map(|d| d.min(i32::MAX as i64) as i32)
            .unwrap_or(-1),
        churn_risk: i.churn_risk,
        churn_risk_reasons: i.churn_reasons.clone(),
        recent_complaints: r.summary.complaints_last_90_days,
        compute_time: Some(timestamp(r.compute_time)),
    }
}

pub fn audit(a: &AuditEntry) -> pb::AuditEntry {
    pb::AuditEntry {
        action: a.action.clone(),
        actor: a.actor.clone(),
        details: a.details.clone(),
        create_time: Some(timestamp(a.create_time)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut v = Violations::new();
        let _ = profile_from_proto(&c, &mut v);
        let fields: Vec<_> = v.iter().map(|x| x.field.clone()).collect();
        assert_eq!(
            fields,
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
    fn a_profile_round_trips() {
        let c = pb::Customer {
            display_name: "Li Wei".into(),
            primary_email: "LI@example.com".into(),
            phones: vec!["+86 138 0013 8000".into()],
            tags: vec!["VIP".into(), "vip".into()],
            time_zone: "Asia/Shanghai".into(),
            language_code: "zh-CN".into(),
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
        let p = profile_from_proto(&c, &mut v);
        assert!(v.is_empty(), "{v:?}");
        let back = customer(&Customer::new(p, Utc::now()));
        assert_eq!(back.primary_email, "li@example.com");
        assert_eq!(back.phones, ["+8613800138000"]);
        assert_eq!(back.tags, ["vip"]);
        assert_eq!(back.attributes, c.attributes);
        assert_eq!(back.birth_date, c.birth_date);
    }
}
