//! proto <-> domain. Parsing collects every violation with its proto field path; the
//! adapter prefixes the request field (e.g. `customer.`).
use crate::domain::insights::Insights;
use crate::domain::{
    Activity, ActivityKind, AuditEntry, Channel, Consent, Customer, CustomerId, CustomerState,
    Email, Gender, ImportantDate, LifecycleStage, Money, Phone, PostalAddress, Profile,
    PurchaseItem, RelationshipLevel, Tag, contact,
};
use crate::service::{InsightsReport, SearchQuery};
use crate::settings::InputLimits;
use chrono::{DateTime, NaiveDate, Utc};
use crm_platform::Violations;
use crm_platform::validate::{self, multiline, text};
use crm_proto::common as cpb;
use crm_proto::customers as pb;

/// Longest text per field, in characters. Lists and amounts are bounded by the settings
/// (`[customers.limits]`); these follow from what the fields hold.
pub mod max_chars {
    pub const DISPLAY_NAME: usize = 200;
    pub const NAME_PART: usize = 100;
    pub const LABEL: usize = 64;
    pub const ADDRESS_LINE: usize = 200;
    pub const ADDRESS_LINES: usize = 5;
    pub const LOCALITY: usize = 100;
    pub const POSTAL_CODE: usize = 32;
    pub const RECIPIENT: usize = 200;
    pub const TIME_ZONE: usize = 64;
    pub const DATE_KIND: usize = 64;
    pub const CONSENT_SOURCE: usize = 128;
    pub const EXTERNAL_ID: usize = 128;
    pub const ATTRIBUTE_KEY: usize = 64;
    pub const ATTRIBUTE_TEXT: usize = 1_000;
    pub const CHANNEL: usize = 64;
    pub const REFERENCE: usize = 128;
    pub const ITEM_ID: usize = 128;
    /// Review, inquiry and complaint texts, search queries.
    pub const ACTIVITY_TEXT: usize = 10_000;
    pub const NAME_PREFIX: usize = 100;
    pub const ACTOR: usize = 128;
    pub const ETAG: usize = 64;
}

/// The earliest birth date accepted.
const EARLIEST_BIRTH_DATE: Option<NaiveDate> = NaiveDate::from_ymd_opt(1900, 1, 1);
/// Important dates (anniversaries, planned events) lie in these years.
const DATE_YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    validate::to_timestamp(t)
}

/// An optional timestamp filter; a bad one is a violation.
pub fn opt_time(
    t: Option<&prost_types::Timestamp>,
    field: &str,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    validate::opt_timestamp(field, t, v)
}

/// A calendar date: a real day (no 31 April) in a year of `years`.
fn date_from(
    d: &cpb::Date,
    field: &str,
    years: std::ops::RangeInclusive<i32>,
    v: &mut Violations,
) -> Option<NaiveDate> {
    let parsed = years
        .contains(&d.year)
        .then(|| {
            NaiveDate::from_ymd_opt(
                d.year,
                u32::try_from(d.month).ok()?,
                u32::try_from(d.day).ok()?,
            )
        })
        .flatten();
    if parsed.is_none() {
        v.add(
            field,
            format!(
                "must be a valid calendar date with year {}..{}, month and day",
                years.start(),
                years.end()
            ),
        );
    }
    parsed
}

fn date(d: NaiveDate) -> cpb::Date {
    use chrono::Datelike;
    cpb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

/// Money as an activity carries it: an ISO 4217 currency and a positive amount of at most
/// `max_amount_major` whole units.
fn money_from(
    m: &cpb::Money,
    field: &str,
    limits: &InputLimits,
    v: &mut Violations,
) -> Option<Money> {
    let currency = validate::currency(&format!("{field}.currency_code"), &m.currency_code, v)?;
    let amount = validate::amount_minor(
        &format!("{field}.amount_minor"),
        currency,
        m.amount_minor,
        limits.max_amount_major,
        v,
    )?;
    Some(Money {
        currency: m.currency_code.clone(),
        amount_minor: amount,
    })
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

/// A repeated field within `max` entries; when it is longer only the list is reported and
/// its entries are not parsed (bounded work for any request).
fn bounded<'a, T>(field: &str, items: &'a [T], max: usize, v: &mut Violations) -> &'a [T] {
    if validate::max_items(field, items.len(), max, v) {
        items
    } else {
        &[]
    }
}

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
    if let Some(d) = &c.birth_date {
        let earliest = EARLIEST_BIRTH_DATE.unwrap_or(NaiveDate::MIN);
        match date_from(d, "birth_date", 1..=9999, v) {
            Some(d) if d > now.date_naive() => v.add("birth_date", "must not be in the future"),
            Some(d) if d < earliest => v.add("birth_date", "must not be before 1900-01-01"),
            Some(d) => p.birth_date = Some(d),
            None => {}
        }
    }
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
        p.addresses
            .push(address_from_proto(a, &format!("addresses[{i}]"), v));
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
        p.attributes = attributes_from_proto(s, limits, v);
    }
    let dates = bounded(
        "important_dates",
        &c.important_dates,
        limits.max_important_dates,
        v,
    );
    for (i, d) in dates.iter().enumerate() {
        let f = format!("important_dates[{i}]");
        let kind = text(&format!("{f}.kind"), &d.kind, max::DATE_KIND, true, v);
        let date = match &d.date {
            Some(date) => date_from(date, &format!("{f}.date"), DATE_YEARS, v),
            None => {
                v.add(format!("{f}.date"), "is required");
                None
            }
        };
        if let Some(date) = date {
            p.important_dates.push(ImportantDate { kind, date });
        }
    }
    // One consent per channel: more entries than channels cannot be right.
    for (i, c) in bounded("consents", &c.consents, CHANNELS.len(), v)
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
            max::CONSENT_SOURCE,
            false,
            v,
        );
        if let (Some(channel), Some(granted), Some(update_time)) = (channel, granted, update_time) {
            p.consents.push(Consent {
                channel,
                granted,
                source,
                update_time,
            });
        }
    }
    p.lifecycle_stage =
        enum_field(c.lifecycle_stage, "lifecycle_stage", STAGES, v).unwrap_or_default();
    p.relationship_level =
        enum_field(c.relationship_level, "relationship_level", LEVELS, v).unwrap_or_default();
    let external = text("external_id", &c.external_id, max::EXTERNAL_ID, false, v);
    p.external_id = (!external.is_empty()).then_some(external);
    p
}

fn address_from_proto(a: &cpb::PostalAddress, f: &str, v: &mut Violations) -> PostalAddress {
    use max_chars as max;
    v.check(
        format!("{f}.region_code"),
        contact::region_code(&a.region_code),
    );
    let lines = bounded(
        &format!("{f}.address_lines"),
        &a.address_lines,
        max::ADDRESS_LINES,
        v,
    );
    PostalAddress {
        label: text(&format!("{f}.label"), &a.label, max::LABEL, false, v),
        address_lines: lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let field = format!("{f}.address_lines[{i}]");
                text(&field, l, max::ADDRESS_LINE, false, v)
            })
            .collect(),
        locality: text(
            &format!("{f}.locality"),
            &a.locality,
            max::LOCALITY,
            false,
            v,
        ),
        administrative_area: text(
            &format!("{f}.administrative_area"),
            &a.administrative_area,
            max::LOCALITY,
            false,
            v,
        ),
        postal_code: text(
            &format!("{f}.postal_code"),
            &a.postal_code,
            max::POSTAL_CODE,
            false,
            v,
        ),
        region_code: a.region_code.clone(),
        recipient: text(
            &format!("{f}.recipient"),
            &a.recipient,
            max::RECIPIENT,
            false,
            v,
        ),
    }
}

/// Walks the custom attributes within the limits: entries per level, nesting depth, clean
/// keys and strings, finite numbers, and a total size (compact JSON bytes) budget that stops
/// the walk as soon as it is spent.
struct AttributeWalk<'a> {
    limits: &'a InputLimits,
    budget: usize,
    too_big: bool,
    v: &'a mut Violations,
}

impl AttributeWalk<'_> {
    fn spend(&mut self, bytes: usize) -> bool {
        match self.budget.checked_sub(bytes) {
            Some(rest) => {
                self.budget = rest;
                true
            }
            None => {
                self.too_big = true;
                false
            }
        }
    }

    fn object(
        &mut self,
        s: &prost_types::Struct,
        path: &str,
        depth: usize,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        if !validate::max_items(path, s.fields.len(), self.limits.max_attributes, self.v) {
            return None;
        }
        let mut out = serde_json::Map::new();
        for (k, val) in &s.fields {
            let mut kv = Violations::new();
            let key = text("", k, max_chars::ATTRIBUTE_KEY, true, &mut kv);
            if !kv.is_empty() {
                self.v.add(
                    path,
                    format!(
                        "keys must be 1-{} characters without control characters",
                        max_chars::ATTRIBUTE_KEY
                    ),
                );
                return None;
            }
            if !self.spend(key.len() + 4) {
                return None;
            }
            let value = self.value(val, &format!("{path}.{key}"), depth)?;
            out.insert(key, value);
        }
        Some(out)
    }

    fn value(
        &mut self,
        val: &prost_types::Value,
        path: &str,
        depth: usize,
    ) -> Option<serde_json::Value> {
        use prost_types::value::Kind;
        use serde_json::Value as J;
        let nested = matches!(val.kind, Some(Kind::StructValue(_) | Kind::ListValue(_)));
        if nested && depth >= self.limits.max_attribute_depth {
            self.v.add(
                path,
                format!(
                    "nests deeper than {} levels",
                    self.limits.max_attribute_depth
                ),
            );
            return None;
        }
        let value = match &val.kind {
            None | Some(Kind::NullValue(_)) => J::Null,
            Some(Kind::NumberValue(n)) => match serde_json::Number::from_f64(*n) {
                Some(n) => J::Number(n),
                None => {
                    self.v.add(path, "must be a finite number");
                    return None;
                }
            },
            Some(Kind::StringValue(s)) => {
                let mut sv = Violations::new();
                let s = multiline(path, s, max_chars::ATTRIBUTE_TEXT, false, &mut sv);
                if !sv.is_empty() {
                    self.v.extend_prefixed("", sv);
                    return None;
                }
                J::String(s)
            }
            Some(Kind::BoolValue(b)) => J::Bool(*b),
            Some(Kind::StructValue(s)) => J::Object(self.object(s, path, depth + 1)?),
            Some(Kind::ListValue(l)) => {
                if !validate::max_items(path, l.values.len(), self.limits.max_attributes, self.v) {
                    return None;
                }
                let mut items = Vec::with_capacity(l.values.len());
                for (i, x) in l.values.iter().enumerate() {
                    items.push(self.value(x, &format!("{path}[{i}]"), depth + 1)?);
                }
                J::Array(items)
            }
        };
        let size = match &value {
            J::String(s) => s.len() + 3,
            _ => 8,
        };
        if !self.spend(size) {
            return None;
        }
        Some(value)
    }
}

fn attributes_from_proto(
    s: &prost_types::Struct,
    limits: &InputLimits,
    v: &mut Violations,
) -> serde_json::Map<String, serde_json::Value> {
    let mut walk = AttributeWalk {
        limits,
        budget: limits.max_attributes_bytes,
        too_big: false,
        v,
    };
    let map = walk.object(s, "attributes", 1).unwrap_or_default();
    let too_big = walk.too_big
        || serde_json::to_string(&map).map_or(0, |j| j.len()) > limits.max_attributes_bytes;
    if too_big {
        v.add(
            "attributes",
            format!(
                "must be at most {} bytes as JSON",
                limits.max_attributes_bytes
            ),
        );
        return serde_json::Map::new();
    }
    map
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
    limits: &InputLimits,
    v: &mut Violations,
) -> Option<Activity> {
    use max_chars as max;
    let kind = if a.kind == 0 {
        v.add("kind", "is required");
        None
    } else {
        enum_field(a.kind, "kind", KINDS, v)
    };
    let now = crate::domain::now();
    let occur_time = validate::required_timestamp("occur_time", a.occur_time.as_ref(), v)
        .filter(|t| validate::not_in_future("occur_time", *t, now, v));
    let amount = a
        .amount
        .as_ref()
        .and_then(|m| money_from(m, "amount", limits, v));
    let mut items = Vec::new();
    for (i, it) in bounded("items", &a.items, limits.max_items, v)
        .iter()
        .enumerate()
    {
        let f = format!("items[{i}]");
        let unit_price = it
            .unit_price
            .as_ref()
            .and_then(|m| money_from(m, &format!("{f}.unit_price"), limits, v));
        let item_id = text(&format!("{f}.item_id"), &it.item_id, max::ITEM_ID, true, v);
        let quantity = validate::in_range(
            &format!("{f}.quantity"),
            i64::from(it.quantity),
            1..=limits.max_quantity,
            v,
        );
        items.push(PurchaseItem {
            item_id,
            quantity: quantity.and_then(|q| i32::try_from(q).ok()).unwrap_or(0),
            unit_price,
        });
    }
    // The proto documents 1-5 for reviews; the per-kind rule (only reviews) is the domain's.
    if a.rating != 0 {
        validate::in_range("rating", i64::from(a.rating), 1..=5, v);
    }
    let channel = text("channel", &a.channel, max::CHANNEL, false, v);
    let reference = text("reference", &a.reference, max::REFERENCE, false, v);
    let body = multiline("text", &a.text, max::ACTIVITY_TEXT, false, v);
    let item_id = text("item_id", &a.item_id, max::ITEM_ID, false, v);
    Some(Activity {
        id: uuid::Uuid::nil(),
        customer: customer_id,
        kind: kind?,
        occur_time: occur_time?,
        channel,
        amount,
        items,
        reference,
        text: body,
        item_id,
        rating: a.rating,
        create_time: now,
    })
}

/// A search query: one of an exact e-mail, an exact phone or a name prefix.
pub fn search_query(
    q: Option<&crm_proto::customers::search_customers_request::Query>,
    v: &mut Violations,
) -> Option<SearchQuery> {
    use crm_proto::customers::search_customers_request::Query;
    match q {
        Some(Query::Email(e)) => v.check("email", Email::parse(e)).map(SearchQuery::Email),
        Some(Query::Phone(p)) => v.check("phone", Phone::parse(p)).map(SearchQuery::Phone),
        Some(Query::NamePrefix(n)) => {
            let n = text("name_prefix", n, max_chars::NAME_PREFIX, false, v).to_lowercase();
            if n.chars().count() < 2 {
                v.add("name_prefix", "must be at least 2 characters");
                return None;
            }
            Some(SearchQuery::NamePrefix(n))
        }
        None => {
            v.add("query", "set one of email, phone or name_prefix");
            None
        }
    }
}

/// An etag sent back by the caller: short clean text (a foreign or stale one is the
/// service's ETAG_MISMATCH, not a parse error).
pub fn etag(field: &str, raw: &str, v: &mut Violations) -> String {
    text(field, raw, max_chars::ETAG, false, v)
}

/// Who asked for a change, for the audit log: the request's `actor` when set, else the one
/// from the call's metadata.
pub fn actor(raw: &str, from_metadata: String, v: &mut Violations) -> String {
    let actor = text("actor", raw, max_chars::ACTOR, false, v);
    if actor.is_empty() {
        from_metadata
    } else {
        actor
    }
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

    fn limits() -> InputLimits {
        crate::Settings::load(None)
            .expect("default settings")
            .customers
            .limits
    }

    fn fields(v: &Violations) -> Vec<String> {
        v.iter().map(|x| x.field.clone()).collect()
    }

    fn profile_violations(c: &pb::Customer) -> Vec<String> {
        let mut v = Violations::new();
        let _ = profile_from_proto(c, &limits(), &mut v);
        fields(&v)
    }

    fn date(year: i32, month: i32, day: i32) -> Option<cpb::Date> {
        Some(cpb::Date { year, month, day })
    }

    fn at(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos: 0 })
    }

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

    fn attributes(json: serde_json::Value) -> pb::Customer {
        let Some(prost_types::value::Kind::StructValue(s)) = value_from_json(&json).kind else {
            panic!("an object");
        };
        pb::Customer {
            attributes: Some(s),
            ..Default::default()
        }
    }

    #[test]
    fn custom_attributes_are_bounded_in_entries_depth_and_size() {
        let l = limits();
        let ok = attributes(serde_json::json!({"room": {"floor": "high", "view": ["sea"]}}));
        assert!(profile_violations(&ok).is_empty());
        let wide: serde_json::Map<_, _> = (0..=l.max_attributes)
            .map(|i| (format!("k{i}"), serde_json::json!(1)))
            .collect();
        assert_eq!(
            profile_violations(&attributes(serde_json::Value::Object(wide))),
            ["attributes"]
        );
        let mut deep = serde_json::json!("leaf");
        for _ in 0..=l.max_attribute_depth {
            deep = serde_json::json!({ "a": deep });
        }
        assert_eq!(
            profile_violations(&attributes(deep)),
            ["attributes.a.a.a.a"]
        );
        let big: serde_json::Map<_, _> = (0..20)
            .map(|i| (format!("k{i}"), serde_json::json!("x".repeat(999))))
            .collect();
        assert_eq!(
            profile_violations(&attributes(serde_json::Value::Object(big))),
            ["attributes"]
        );
        let bad_key = attributes(serde_json::json!({ "a\u{0}": 1 }));
        assert_eq!(profile_violations(&bad_key), ["attributes"]);
        let nan = pb::Customer {
            attributes: Some(prost_types::Struct {
                fields: [(
                    "n".to_owned(),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::NumberValue(f64::NAN)),
                    },
                )]
                .into_iter()
                .collect(),
            }),
            ..Default::default()
        };
        assert_eq!(profile_violations(&nan), ["attributes.n"]);
    }

    #[test]
    fn dates_and_times_are_in_range() {
        let now = Utc::now().timestamp();
        let c = pb::Customer {
            birth_date: date(1899, 12, 31),
            important_dates: vec![
                pb::ImportantDate {
                    kind: "a".into(),
                    date: date(2023, 2, 29),
                },
                pb::ImportantDate {
                    kind: "b".into(),
                    date: date(10_000, 1, 1),
                },
                pb::ImportantDate {
                    kind: "c".into(),
                    date: None,
                },
                pb::ImportantDate {
                    kind: "d".into(),
                    date: date(2024, 2, 29),
                },
            ],
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
                "birth_date",
                "important_dates[0].date",
                "important_dates[1].date",
                "important_dates[2].date",
                "consents[0].update_time",
                "consents[1].update_time",
                "consents[2].update_time",
            ]
        );
        let tomorrow = Utc::now().date_naive() + chrono::Duration::days(1);
        use chrono::Datelike;
        let future = pb::Customer {
            birth_date: date(
                tomorrow.year(),
                tomorrow.month() as i32,
                tomorrow.day() as i32,
            ),
            ..Default::default()
        };
        assert_eq!(profile_violations(&future), ["birth_date"]);
        let fine = pb::Customer {
            birth_date: date(1900, 1, 1),
            ..Default::default()
        };
        assert!(profile_violations(&fine).is_empty());
    }

    fn activity_violations(a: &pb::Activity) -> Vec<String> {
        let mut v = Violations::new();
        let _ = activity_from_proto(a, CustomerId(uuid::Uuid::nil()), &limits(), &mut v);
        fields(&v)
    }

    fn cny(amount_minor: i64) -> Option<cpb::Money> {
        Some(cpb::Money {
            currency_code: "CNY".into(),
            amount_minor,
        })
    }

    #[test]
    fn every_bad_activity_field_is_reported() {
        let l = limits();
        let a = pb::Activity {
            kind: 42,
            occur_time: at(Utc::now().timestamp() + 3600),
            channel: "web\0".into(),
            amount: cny(i64::MAX),
            items: vec![
                pb::PurchaseItem {
                    item_id: "".into(),
                    quantity: 0,
                    unit_price: Some(cpb::Money {
                        currency_code: "ZZZ".into(),
                        amount_minor: 1,
                    }),
                },
                pb::PurchaseItem {
                    item_id: "sku\u{202E}".into(),
                    quantity: i32::MAX,
                    unit_price: cny(-1),
                },
            ],
            reference: "r".repeat(129),
            text: "a\0".into(),
            item_id: "i\nj".into(),
            rating: 6,
            ..Default::default()
        };
        assert_eq!(
            activity_violations(&a),
            [
                "kind",
                "occur_time",
                "amount.amount_minor",
                "items[0].unit_price.currency_code",
                "items[0].item_id",
                "items[0].quantity",
                "items[1].unit_price.amount_minor",
                "items[1].item_id",
                "items[1].quantity",
                "rating",
                "channel",
                "reference",
                "text",
                "item_id",
            ]
        );
        let max_minor = l.max_amount_major * 100;
        let ok = pb::Activity {
            kind: pb::ActivityKind::Purchase as i32,
            occur_time: at(Utc::now().timestamp() + 60),
            amount: cny(max_minor),
            items: vec![pb::PurchaseItem {
                item_id: "sku".into(),
                quantity: i32::try_from(l.max_quantity).expect("fits"),
                unit_price: cny(1),
            }],
            text: "line 1\nline 2".into(),
            ..Default::default()
        };
        assert!(activity_violations(&ok).is_empty(), "within the bounds");
        let over = pb::Activity {
            amount: cny(max_minor + 1),
            ..ok.clone()
        };
        assert_eq!(activity_violations(&over), ["amount.amount_minor"]);
        let year0 = pb::Activity {
            occur_time: at(validate::MIN_TIMESTAMP_SECONDS - 1),
            items: vec![pb::PurchaseItem::default(); l.max_items + 1],
            amount: Some(cpb::Money {
                currency_code: "cny".into(),
                amount_minor: 1,
            }),
            ..ok
        };
        assert_eq!(
            activity_violations(&year0),
            ["occur_time", "amount.currency_code", "items"]
        );
    }

    #[test]
    fn search_queries_are_bounded_text() {
        use crm_proto::customers::search_customers_request::Query;
        let check = |q: Query| {
            let mut v = Violations::new();
            let parsed = search_query(Some(&q), &mut v);
            (parsed.is_some() && v.is_empty(), fields(&v))
        };
        assert_eq!(check(Query::NamePrefix(" Li ".into())), (true, vec![]));
        for bad in ["x".repeat(60_000), "l".into(), "li\0".into(), "  ".into()] {
            assert_eq!(
                check(Query::NamePrefix(bad.clone())),
                (false, vec!["name_prefix".to_owned()]),
                "{bad:.20}"
            );
        }
        assert_eq!(
            check(Query::Email("a\u{202E}@example.com".into())).1,
            ["email"]
        );
        assert_eq!(check(Query::Phone("+999999999999999".into())).1, ["phone"]);
        let mut v = Violations::new();
        assert_eq!(actor("  ops ", "api".into(), &mut v), "ops");
        assert_eq!(actor("", "api".into(), &mut v), "api");
        actor("a\0", "api".into(), &mut v);
        assert_eq!(etag("etag", " W/\"r3\" ", &mut v), "W/\"r3\"");
        etag("etag", &"W".repeat(65), &mut v);
        etag("etag", "W/\"r3\"\0", &mut v);
        assert_eq!(fields(&v), ["actor", "etag", "etag"]);
    }

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
