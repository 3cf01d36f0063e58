//! The bad values, and every request that differs from a valid one in ONE field.
use crate::generate::{self, FIELD_MASK, Generator, STRUCT, TIMESTAMP};
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage, Value};
use std::collections::HashMap;

/// Year 0000-01-01 and 10000-01-01, just outside what the protobuf spec allows.
const YEAR_0: i64 = -62_167_219_200;
const YEAR_10000: i64 = 253_402_300_800;
const MANY: usize = 10_000;
const HUGE: usize = 100_000;
const STRUCT_LEVELS: usize = 90;
/// Nested messages deeper than this get no variants of their own.
const MAX_DEPTH: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bad {
    Empty,
    Huge,
    Nul,
    Control,
    /// Well-formed-looking but invalid: `ZZZ` currency, `+999999999999999` phone, ...
    Malformed,
    Max,
    Min,
    Negative,
    UnknownEnum,
    Year0,
    Year10000,
    NotANumber,
    Infinite,
    Many,
    ManyNul,
    DeepStruct,
}

impl Bad {
    pub fn label(self) -> &'static str {
        match self {
            Bad::Empty => "empty",
            Bad::Huge => "100,000 chars",
            Bad::Nul => "NUL byte",
            Bad::Control => "control chars",
            Bad::Malformed => "malformed",
            Bad::Max => "MAX",
            Bad::Min => "MIN",
            Bad::Negative => "-1",
            Bad::UnknownEnum => "enum 999",
            Bad::Year0 => "year 0",
            Bad::Year10000 => "year 10000",
            Bad::NotANumber => "NaN",
            Bad::Infinite => "infinity",
            Bad::Many => "10,000 entries",
            Bad::ManyNul => "10,000 NUL entries",
            Bad::DeepStruct => "Struct nested 90",
        }
    }

    /// Whether an OK answer can be right: only for values in range (an empty optional field,
    /// a negative number where negatives mean something, a clamped maximum). A NUL byte, a
    /// time outside years 1..9999, an unknown enum or an unbounded size never is.
    pub fn may_succeed(self, field: &FieldDescriptor) -> bool {
        match self {
            Bad::Empty => !generate::is_required(field),
            Bad::Negative => !generate::is_non_negative(field),
            Bad::Max => generate::CLAMPED.contains(&field.name()),
            _ => false,
        }
    }
}

/// One request to send.
pub struct Case {
    /// The field changed, e.g. `customer.phones[0]`; empty for the whole request.
    pub path: String,
    pub field: Option<FieldDescriptor>,
    pub bad: Option<Bad>,
    pub request: DynamicMessage,
}

/// Every variant of `valid` with one field replaced by a bad value.
pub fn variants(valid: &DynamicMessage, generator: &mut Generator<'_>) -> Vec<Case> {
    let mut out = Vec::new();
    let update = valid
        .descriptor()
        .fields()
        .any(|f| matches!(f.kind(), Kind::Message(m) if m.full_name() == FIELD_MASK));
    for (path, field, bad, mut request) in of_message(valid, generator, 0, update) {
        if field.name() != "request_id" {
            generate::refresh_request_ids(&mut request);
        }
        out.push(Case {
            path,
            field: Some(field),
            bad: Some(bad),
            request,
        });
    }
    out
}

type Variant = (String, FieldDescriptor, Bad, DynamicMessage);

/// `update`: `msg` is (inside) an update request, whose resource fields outside the mask are
/// ignored by contract; they are left alone.
fn of_message(
    msg: &DynamicMessage,
    generator: &mut Generator<'_>,
    depth: usize,
    update: bool,
) -> Vec<Variant> {
    let mut out = Vec::new();
    for field in msg.descriptor().fields() {
        let set = msg.has_field(&field);
        // Output-only fields are ignored by contract, unless the valid request sets one on
        // purpose (an update's resource name).
        if generate::is_output_only(&field) && !set {
            continue;
        }
        // A resource's etag means something only to an update.
        if depth == 1 && field.name() == "etag" && !update {
            continue;
        }
        if depth == 1 && update && !set && field.name() != "etag" {
            continue;
        }
        let with = |v: Value| {
            let mut m = msg.clone();
            m.set_field(&field, v);
            m
        };
        if field.is_map() {
            for (bad, v) in map_values(&field) {
                out.push((field.name().to_owned(), field.clone(), bad, with(v)));
            }
            continue;
        }
        if field.is_list() {
            let first = match msg.get_field(&field).as_list().and_then(|l| l.first()) {
                Some(v) => Some(v.clone()),
                None => generator.single(&field, depth),
            };
            let Some(first) = first else { continue };
            out.push((
                field.name().to_owned(),
                field.clone(),
                Bad::Many,
                with(Value::List(vec![first.clone(); MANY])),
            ));
            if field.kind() == Kind::String {
                out.push((
                    field.name().to_owned(),
                    field.clone(),
                    Bad::ManyNul,
                    with(Value::List(vec![Value::String("bad\0".into()); MANY])),
                ));
            }
            let rest: Vec<Value> = msg
                .get_field(&field)
                .as_list()
                .map(|l| l.iter().skip(1).cloned().collect())
                .unwrap_or_default();
            for (sub, leaf, bad, v) in of_value(&field, &first, generator, depth, update) {
                let mut items = vec![v];
                items.extend(rest.iter().cloned());
                out.push((
                    format!("{}[0]{sub}", field.name()),
                    leaf,
                    bad,
                    with(Value::List(items)),
                ));
            }
            continue;
        }
        let current = if set {
            Some(msg.get_field(&field).into_owned())
        } else {
            match field.kind() {
                Kind::Message(_) => generator.single(&field, depth),
                _ => None,
            }
        };
        let current = current.unwrap_or_else(|| Value::default_value_for_field(&field));
        for (sub, leaf, bad, v) in of_value(&field, &current, generator, depth, update) {
            // An empty value equal to the valid one is no variant.
            if bad == Bad::Empty && !set {
                continue;
            }
            out.push((format!("{}{sub}", field.name()), leaf, bad, with(v)));
        }
    }
    out
}

/// Bad replacements for one value of `field` (an element, for lists): (sub-path below the
/// field, the leaf field changed, the bad value, the replacement).
fn of_value(
    field: &FieldDescriptor,
    current: &Value,
    generator: &mut Generator<'_>,
    depth: usize,
    update: bool,
) -> Vec<(String, FieldDescriptor, Bad, Value)> {
    let leaf = |bad: Bad, v: Value| (String::new(), field.clone(), bad, v);
    match field.kind() {
        Kind::String => {
            let mut out = vec![
                leaf(Bad::Empty, Value::String(String::new())),
                leaf(Bad::Huge, Value::String("x".repeat(HUGE))),
                leaf(Bad::Nul, Value::String("bad\0input".into())),
                leaf(
                    Bad::Control,
                    Value::String("bad\u{1}\u{1b}[2J\u{7f}".into()),
                ),
            ];
            out.extend(
                generate::malformed(field).map(|m| leaf(Bad::Malformed, Value::String(m.into()))),
            );
            out
        }
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => vec![
            leaf(Bad::Max, Value::I32(i32::MAX)),
            leaf(Bad::Min, Value::I32(i32::MIN)),
            leaf(Bad::Negative, Value::I32(-1)),
        ],
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => vec![
            leaf(Bad::Max, Value::I64(i64::MAX)),
            leaf(Bad::Min, Value::I64(i64::MIN)),
            leaf(Bad::Negative, Value::I64(-1)),
        ],
        Kind::Uint32 | Kind::Fixed32 => vec![leaf(Bad::Max, Value::U32(u32::MAX))],
        Kind::Uint64 | Kind::Fixed64 => vec![leaf(Bad::Max, Value::U64(u64::MAX))],
        Kind::Double => vec![
            leaf(Bad::NotANumber, Value::F64(f64::NAN)),
            leaf(Bad::Infinite, Value::F64(f64::INFINITY)),
        ],
        Kind::Float => vec![
            leaf(Bad::NotANumber, Value::F32(f32::NAN)),
            leaf(Bad::Infinite, Value::F32(f32::INFINITY)),
        ],
        Kind::Bool | Kind::Bytes => Vec::new(),
        Kind::Enum(_) => vec![leaf(Bad::UnknownEnum, Value::EnumNumber(999))],
        Kind::Message(m) if m.full_name() == TIMESTAMP => vec![
            leaf(Bad::Year0, Value::Message(generate::timestamp(YEAR_0))),
            leaf(
                Bad::Year10000,
                Value::Message(generate::timestamp(YEAR_10000)),
            ),
        ],
        Kind::Message(m) if m.full_name() == STRUCT => vec![leaf(
            Bad::DeepStruct,
            Value::Message(generate::deep_struct(STRUCT_LEVELS)),
        )],
        Kind::Message(m) => {
            if depth >= MAX_DEPTH
                || (m.full_name().starts_with("google.") && m.full_name() != FIELD_MASK)
            {
                return Vec::new();
            }
            let Value::Message(inner) = current else {
                return Vec::new();
            };
            of_message(inner, generator, depth + 1, update)
                .into_iter()
                .map(|(p, f, bad, m)| (format!(".{p}"), f, bad, Value::Message(m)))
                .collect()
        }
    }
}

/// A map with 10,000 entries, and one with a NUL byte in its key and value.
fn map_values(field: &FieldDescriptor) -> Vec<(Bad, Value)> {
    let Kind::Message(entry) = field.kind() else {
        return Vec::new();
    };
    let key = entry.map_entry_key_field();
    let value = entry.map_entry_value_field();
    let key_of = |i: usize| match key.kind() {
        Kind::String => Some(MapKey::String(format!("k{i}"))),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Some(MapKey::I32(i as i32)),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Some(MapKey::I64(i as i64)),
        _ => None,
    };
    let plain = match value.kind() {
        Kind::String => Value::String("v".into()),
        _ => Value::default_value_for_field(&value),
    };
    let mut out = Vec::new();
    let many: Option<HashMap<MapKey, Value>> = (0..MANY)
        .map(|i| Some((key_of(i)?, plain.clone())))
        .collect();
    if let Some(many) = many {
        out.push((Bad::Many, Value::Map(many)));
    }
    if key.kind() == Kind::String {
        let v = match value.kind() {
            Kind::String => Value::String("bad\0".into()),
            _ => plain,
        };
        out.push((
            Bad::Nul,
            Value::Map(HashMap::from([(MapKey::String("bad\0".into()), v)])),
        ));
    }
    out
}
