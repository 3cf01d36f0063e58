//! Plausible valid requests built from the descriptors alone: field names, types and the
//! proto comments (`(Required)`, `(Output only)`, `` `customers/{customer}` ``, `e.g. "x"`)
//! say what a value should look like. Resource names come from resources created earlier in
//! the run (collected from every OK response), else a well-formed made-up one.
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, MethodDescriptor,
    OneofDescriptor, ReflectMessage, Value,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::comments::{comment, is_immutable, quoted_example, resource_pattern};
pub use crate::comments::{is_non_negative, is_output_only, is_required};
pub use crate::names::Pool;
use crate::names::shape;

pub const TIMESTAMP: &str = "google.protobuf.Timestamp";
pub const DURATION: &str = "google.protobuf.Duration";
pub const STRUCT: &str = "google.protobuf.Struct";
pub const FIELD_MASK: &str = "google.protobuf.FieldMask";
const DATE: &str = "crm.common.v1.Date";
/// Nested messages deeper than this are left unset.
const MAX_DEPTH: usize = 5;

/// Fields whose documented contract clamps a too-large value to the maximum instead of
/// refusing it (AIP-158 page sizes; hold timeouts "default and maximum").
pub const CLAMPED: &[&str] = &["page_size", "timeout_seconds"];

/// The few fields whose valid value the descriptors cannot tell (by full name). Everything
/// else is generic; a new service needs an entry only when its valid request is refused.
const OVERRIDES: &[(&str, Override)] = &[
    // "For reviews: 1-5": the generic activity is a purchase.
    ("crm.customers.v1.Activity.rating", Override::Unset),
    // Less than one currency unit earns no points.
    ("crm.common.v1.Money.amount_minor", Override::Int(12_900)),
    // Routing skips unavailable agents.
    ("crm.tickets.v1.Agent.available", Override::Bool(true)),
    // A new ticket cannot move to new; solved gives it a survey token.
    (
        "crm.tickets.v1.ChangeStatusRequest.status",
        Override::Int(5),
    ),
    // A category belongs to one team: fixtures would take it.
    ("crm.tickets.v1.Team.categories", Override::Unset),
    // Values only an earlier answer knows: an order that earned points, the survey token of
    // the ticket just solved (see `PREPARE` in main.rs).
    (
        "crm.loyalty.v1.ReverseRequest.order_id",
        Override::Remembered,
    ),
    (
        "crm.tickets.v1.SubmitSatisfactionRequest.survey_token",
        Override::Remembered,
    ),
    // A trait condition names one of the documented fields (EQUALS, the first operator, is
    // one an attribute takes).
    (
        "crm.campaigns.v1.TraitCondition.field",
        Override::Str("attributes.favourite_colour"),
    ),
    // An experiment needs two variants; the generic campaign has one.
    ("crm.campaigns.v1.Campaign.experiment", Override::Unset),
    // Generated coupon codes: the default length (the generic 3 is below 8), no prefix (a
    // prefix is upper case).
    (
        "crm.campaigns.v1.GenerateCouponCodesRequest.length",
        Override::Unset,
    ),
    (
        "crm.campaigns.v1.GenerateCouponCodesRequest.prefix",
        Override::Unset,
    ),
    // The model is a singleton named "model" (no collection to take a name from).
    (
        "crm.recommendations.v1.GetModelRequest.name",
        Override::Str("model"),
    ),
    // The caller chooses an item's id: the quoted example would be taken after one create.
    (
        "crm.recommendations.v1.CreateItemRequest.item_id",
        Override::Unique("sku"),
    ),
    // An item's category comment quotes the separator "/" before its example.
    (
        "crm.recommendations.v1.Item.category",
        Override::Str("travel/hotels/paris"),
    ),
    // "For INTERACTION_KIND_REVIEW: the rating": the generic interaction is a view.
    ("crm.recommendations.v1.Interaction.rating", Override::Unset),
    // The import's idempotency key is a UUID (its name says id, not request_id).
    (
        "crm.recommendations.v1.ImportItemsRequest.import_id",
        Override::Str("0190a6f0-7a2c-7cc1-9d1e-4b8f2a6c0d11"),
    ),
    // Recommendations: attribute keys are [a-z][a-z0-9_]* (the generic "bi-N" is not);
    // exploration and confidence are shares 0..1 (the generic 3.0 is above).
    (
        "crm.recommendations.v1.AttributeCondition.key",
        Override::Str("star_rating"),
    ),
    (
        "crm.recommendations.v1.Boost.attribute_key",
        Override::Str("destination"),
    ),
    (
        "crm.recommendations.v1.RecommendForCustomerRequest.exploration",
        Override::Unset,
    ),
    (
        "crm.recommendations.v1.BoughtTogetherRequest.min_confidence",
        Override::Unset,
    ),
    // Feedback names a served answer and one of its items: the newest answer, of
    // PopularItems (the method before it) over the whole catalogue, which holds the newest
    // item; when it happened defaults to now (a minute ago is before that answer).
    (
        "crm.recommendations.v1.RecordFeedbackRequest.recommendation_id",
        Override::Remembered,
    ),
    (
        "crm.recommendations.v1.RecordFeedbackRequest.occur_time",
        Override::Unset,
    ),
    (
        "crm.recommendations.v1.PopularItemsRequest.filter",
        Override::Unset,
    ),
    (
        "crm.recommendations.v1.PopularItemsRequest.category",
        Override::Unset,
    ),
    (
        "crm.recommendations.v1.PopularItemsRequest.cohort",
        Override::Unset,
    ),
    // The first member of the schedule's oneof, a bool, stands for it only when true.
    (
        "crm.campaigns.v1.Schedule.immediately",
        Override::Bool(true),
    ),
];

/// The short names of `Override::Remembered` fields.
pub fn remembered_fields() -> impl Iterator<Item = &'static str> {
    OVERRIDES
        .iter()
        .filter(|(_, o)| *o == Override::Remembered)
        .filter_map(|(n, _)| n.rsplit('.').next())
}

/// The fields `OVERRIDES` names (for a test that they exist).
pub fn override_fields() -> impl Iterator<Item = &'static str> {
    OVERRIDES.iter().map(|(n, _)| *n)
}

#[derive(Clone, Copy, PartialEq)]
enum Override {
    Unset,
    Int(i64),
    Bool(bool),
    Str(&'static str),
    /// `{prefix}-{n}`, a new value each time (an id the caller chooses).
    Unique(&'static str),
    /// The newest non-empty value of a field of this name in an OK response.
    Remembered,
}

fn override_for(field: &FieldDescriptor, pool: &Pool, service: &str) -> Option<Option<Value>> {
    let (_, o) = OVERRIDES.iter().find(|(n, _)| *n == field.full_name())?;
    Some(match (*o, field.kind()) {
        (Override::Unset, _) => None,
        (Override::Remembered, _) => pool
            .remembered
            .get(&(service.to_owned(), field.name().to_owned()))
            .cloned()
            .map(Value::String),
        (Override::Bool(b), _) => Some(Value::Bool(b)),
        (Override::Str(v), _) => Some(Value::String(v.into())),
        (Override::Unique(prefix), _) => Some(Value::String(format!("{prefix}-{}", unique()))),
        (Override::Int(n), Kind::Enum(_)) => Some(Value::EnumNumber(n as i32)),
        (Override::Int(n), Kind::Int32 | Kind::Sint32 | Kind::Sfixed32) => {
            Some(Value::I32(n as i32))
        }
        (Override::Int(n), _) => Some(Value::I64(n)),
    })
}

/// For a field with a well-known format (by its name), a value that looks right but is not:
/// the issue's `+999999999999999` phone and `ZZZ` currency, and their kin.
pub fn malformed(field: &FieldDescriptor) -> Option<&'static str> {
    let name = field.name();
    Some(match name {
        "language_code" => "xx-!!-123456789",
        "time_zone" => "Mars/Olympus_Mons",
        "currency_code" => "ZZZ",
        "region_code" => "ZZ",
        "request_id" => "not-a-uuid",
        _ if name.contains("email") => "li.wei\u{202e}moc.elpmaxe@example.com",
        _ if name.contains("phone") => "+999999999999999",
        _ => return None,
    })
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Builds plausible requests for one method call.
pub struct Generator<'a> {
    pub pool: &'a Pool,
    pub service: &'a str,
    pub method: &'a MethodDescriptor,
    /// How many references of each shape this request holds already (so a merge names two
    /// different customers).
    used: HashMap<String, usize>,
}

impl<'a> Generator<'a> {
    pub fn new(pool: &'a Pool, service: &'a str, method: &'a MethodDescriptor) -> Self {
        Self {
            pool,
            service,
            method,
            used: HashMap::new(),
        }
    }

    /// A plausible valid request for the method.
    pub fn request(&mut self) -> DynamicMessage {
        let input = self.method.input();
        let mut msg = self.message(&input, 0);
        self.shape_update(&mut msg);
        msg
    }

    pub fn message(&mut self, desc: &MessageDescriptor, depth: usize) -> DynamicMessage {
        let mut msg = DynamicMessage::new(desc.clone());
        match desc.full_name() {
            TIMESTAMP => return timestamp(chrono::Utc::now().timestamp() - 60),
            // A minute: within every documented duration bound.
            DURATION => {
                msg.set_field_by_name("seconds", Value::I64(60));
                return msg;
            }
            DATE => {
                for (f, v) in [("year", 1990), ("month", 5), ("day", 17)] {
                    msg.set_field_by_name(f, Value::I32(v));
                }
                return msg;
            }
            STRUCT => return flat_struct(desc),
            _ => {}
        }
        if depth > MAX_DEPTH {
            return msg;
        }
        for field in desc.fields() {
            if is_output_only(&field) {
                continue;
            }
            if let Some(oneof) = field.containing_oneof()
                && stand_in(&oneof, desc).is_some_and(|chosen| chosen != field)
            {
                continue; // one member of a oneof stands for it
            }
            if let Some(v) = self.value(&field, depth) {
                msg.set_field(&field, v);
            }
        }
        msg
    }

    /// A plausible value for `field` (`None`: leave it unset).
    pub fn value(&mut self, field: &FieldDescriptor, depth: usize) -> Option<Value> {
        if let Some(o) = override_for(field, self.pool, self.service) {
            return o;
        }
        if field.is_map() {
            return None;
        }
        let one = self.single(field, depth)?;
        Some(if field.is_list() {
            Value::List(vec![one])
        } else {
            one
        })
    }

    /// One element's value.
    pub fn single(&mut self, field: &FieldDescriptor, depth: usize) -> Option<Value> {
        if let Some(Some(o)) = override_for(field, self.pool, self.service)
            && !field.is_list()
        {
            return Some(o);
        }
        Some(match field.kind() {
            Kind::String => Value::String(self.string(field)?),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(3),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(3),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(3),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(3),
            Kind::Double => Value::F64(3.0),
            Kind::Float => Value::F32(3.0),
            Kind::Bool | Kind::Bytes => return None,
            Kind::Enum(e) => Value::EnumNumber(e.values().map(|v| v.number()).find(|n| *n != 0)?),
            Kind::Message(m) if m.full_name() == TIMESTAMP => {
                let now = chrono::Utc::now().timestamp();
                let name = field.name();
                Value::Message(timestamp(
                    if name.contains("end") || name.contains("before") || name.contains("expire") {
                        now + 86_400
                    } else if name.contains("start")
                        || name.contains("after")
                        || name.contains("since")
                    {
                        now - 86_400
                    } else {
                        now - 60
                    },
                ))
            }
            Kind::Message(m) if m.full_name() == FIELD_MASK => return None, // see shape_update
            Kind::Message(m) => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                Value::Message(self.message(&m, depth + 1))
            }
        })
    }

    fn string(&mut self, field: &FieldDescriptor) -> Option<String> {
        let name = field.name();
        let n = unique();
        let last = name.rsplit('_').next().unwrap_or(name);
        Some(match name {
            "request_id" => uuid::Uuid::new_v4().to_string(),
            "etag" | "page_token" | "order_by" | "survey_token" => return None,
            "language_code" => "en".into(),
            "time_zone" => "Europe/Paris".into(),
            "currency_code" => "EUR".into(),
            "region_code" => "FR".into(),
            "postal_code" => "75001".into(),
            "content_type" => "image/jpeg".into(),
            "file_name" => "receipt.jpg".into(),
            "uri" | "url" => "https://example.com/receipt.jpg".into(),
            _ if name.contains("email") => format!("bad.input.{n}@example.com"),
            _ if name.contains("phone") => "+8613800138000".into(),
            _ => {
                if let Some(reference) = self.reference(field) {
                    return Some(reference);
                }
                match ["customer", "team", "agent", "assignee", "macro", "ticket"].contains(&last) {
                    true => self.pick(&format!("{}s/*", last.replace("assignee", "agent"))),
                    false => quoted_example(field).unwrap_or_else(|| format!("bi-{n}")),
                }
            }
        })
    }

    /// A resource name for a field documented as one, or named like one.
    fn reference(&mut self, field: &FieldDescriptor) -> Option<String> {
        if let Some(p) = resource_pattern(field) {
            if !p.contains('{') {
                return Some(p); // a literal, e.g. `programs/default`
            }
            return Some(self.pick(&shape(&p.replace(['{', '}'], ""))));
        }
        let n = field.name();
        if [
            "name", "names", "parent", "source", "target", "survivor", "merged",
        ]
        .contains(&n)
        {
            return Some(self.pick(&self.method_shape()));
        }
        None
    }

    /// The collection a method is about: the pool shape whose collection (singular) the method
    /// name mentions (the longest such), else the service's main collection.
    fn method_shape(&self) -> String {
        let method = self.method.name();
        self.pool
            .shapes()
            .filter(|s| {
                let last = s.rsplit('/').nth(1).unwrap_or_default();
                let singular = last.strip_suffix('s').unwrap_or(last);
                method.contains(&camel(singular))
            })
            .max_by_key(|s| s.len())
            .cloned()
            .or_else(|| self.pool.primary.get(self.service).cloned())
            .unwrap_or_else(|| "customers/*".into())
    }

    /// The newest unused name of `shape` from the pool, else a well-formed made-up one.
    fn pick(&mut self, shape: &str) -> String {
        let k = self.used.entry(shape.to_owned()).or_default();
        let i = *k;
        *k += 1;
        self.pool
            .names
            .get(shape)
            .and_then(|v| v.iter().rev().nth(i))
            .cloned()
            .unwrap_or_else(|| shape.replace('*', &uuid::Uuid::now_v7().to_string()))
    }

    /// Update requests: the resource carries its `name` (and no etag: unconditional), and
    /// the mask names exactly the updatable fields that are set (from the mask's comment
    /// when it lists them, without immutable ones).
    fn shape_update(&mut self, msg: &mut DynamicMessage) {
        let desc = msg.descriptor();
        let Some(mask_field) = desc.fields().find(|f| {
            matches!(f.kind(), Kind::Message(m) if m.full_name() == FIELD_MASK) && !f.is_list()
        }) else {
            return;
        };
        let Some(resource_field) = desc.fields().find(|f| {
            matches!(f.kind(), Kind::Message(ref m) if m.full_name() != FIELD_MASK) && !f.is_list()
        }) else {
            return;
        };
        let mask_comment = comment(&mask_field);
        let listed: Vec<String> = if mask_comment.contains("e.g.") {
            Vec::new()
        } else {
            mask_comment
                .split('"')
                .skip(1)
                .step_by(2)
                .filter(|p| *p != "*")
                .map(str::to_owned)
                .collect()
        };
        let mut resource = match msg.get_field(&resource_field).into_owned() {
            Value::Message(m) => m,
            _ => return,
        };
        let rdesc = resource.descriptor();
        let mut paths = Vec::new();
        for f in rdesc.fields() {
            if !resource.has_field(&f) {
                continue;
            }
            let keep = !is_immutable(&f)
                && f.name() != "name"
                && (listed.is_empty() || listed.iter().any(|p| p == f.name()));
            if keep {
                paths.push(Value::String(f.name().to_owned()));
            } else {
                resource.clear_field(&f);
            }
        }
        if let Some(name) = rdesc.get_field_by_name("name") {
            let n = self.pick(&self.method_shape());
            resource.set_field(&name, Value::String(n));
        }
        msg.set_field(&resource_field, Value::Message(resource));
        let Kind::Message(mask_desc) = mask_field.kind() else {
            return;
        };
        let mut mask = DynamicMessage::new(mask_desc);
        mask.set_field_by_name("paths", Value::List(paths));
        msg.set_field(&mask_field, Value::Message(mask));
    }
}

/// The member of a oneof a valid request sets: the first that does not lead back to the
/// message holding it (a rule tree's group or negation would nest until the depth limit and
/// end in an empty node), else the first.
fn stand_in(oneof: &OneofDescriptor, holder: &MessageDescriptor) -> Option<FieldDescriptor> {
    let recurses = |f: &FieldDescriptor| match f.kind() {
        Kind::Message(m) => {
            m == *holder
                || m.fields()
                    .any(|g| matches!(g.kind(), Kind::Message(ref x) if x == holder))
        }
        _ => false,
    };
    oneof
        .fields()
        .find(|f| !recurses(f))
        .or_else(|| oneof.fields().next())
}

fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Gives every request-id field of `msg` (at any depth) a fresh UUID, so a variant is never
/// answered as a replay of an earlier call.
pub fn refresh_request_ids(msg: &mut DynamicMessage) {
    let fields: Vec<FieldDescriptor> = msg.descriptor().fields().collect();
    for f in fields {
        if f.name() == "request_id" && msg.has_field(&f) {
            msg.set_field(&f, Value::String(uuid::Uuid::new_v4().to_string()));
        } else if msg.has_field(&f)
            && let Value::Message(m) = msg.get_field_mut(&f)
        {
            refresh_request_ids(m);
        }
    }
}

pub fn timestamp(seconds: i64) -> DynamicMessage {
    let desc = super::pool()
        .get_message_by_name(TIMESTAMP)
        .expect("Timestamp descriptor");
    let mut ts = DynamicMessage::new(desc);
    ts.set_field_by_name("seconds", Value::I64(seconds));
    ts
}

/// `{"note": "bad input"}`.
fn flat_struct(desc: &MessageDescriptor) -> DynamicMessage {
    let value_desc = super::pool()
        .get_message_by_name("google.protobuf.Value")
        .expect("Value descriptor");
    let mut v = DynamicMessage::new(value_desc);
    v.set_field_by_name("string_value", Value::String("bad input".into()));
    let mut s = DynamicMessage::new(desc.clone());
    s.set_field_by_name(
        "fields",
        Value::Map(HashMap::from([(
            MapKey::String("note".into()),
            Value::Message(v),
        )])),
    );
    s
}

/// A `google.protobuf.Struct` nested `levels` deep: `{"a": {"a": ... {}}}`.
pub fn deep_struct(levels: usize) -> DynamicMessage {
    let pool = super::pool();
    let struct_desc = pool.get_message_by_name(STRUCT).expect("Struct descriptor");
    let value_desc = pool
        .get_message_by_name("google.protobuf.Value")
        .expect("Value descriptor");
    let mut inner = DynamicMessage::new(struct_desc.clone());
    for _ in 0..levels {
        let mut v = DynamicMessage::new(value_desc.clone());
        v.set_field_by_name("struct_value", Value::Message(inner));
        let mut s = DynamicMessage::new(struct_desc.clone());
        s.set_field_by_name(
            "fields",
            Value::Map(HashMap::from([(
                MapKey::String("a".into()),
                Value::Message(v),
            )])),
        );
        inner = s;
    }
    inner
}
