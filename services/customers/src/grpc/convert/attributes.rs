//! Custom attributes: a bounded JSON object on the wire as a `google.protobuf.Struct`.
use super::max_chars;
use crate::settings::InputLimits;
use crm_platform::Violations;
use crm_platform::validate::{self, multiline, text};

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
        for (i, (k, val)) in s.fields.iter().enumerate() {
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
            let value = self.value(val, &entry_path(path, i, &key), depth)?;
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

/// The field path of an entry in violations: `{path}.{key}` when the key is a plain name;
/// otherwise `{path}[{i}]`, the entry's position in key order, so a key holding a value (an
/// e-mail, a phone) is never echoed into errors and the logs that carry them.
fn entry_path(path: &str, i: usize, key: &str) -> String {
    let plain = key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{i}]")
    }
}

pub(super) fn attributes_from_proto(
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

pub(super) fn value_from_json(v: &serde_json::Value) -> prost_types::Value {
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

pub(super) fn attributes(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Option<prost_types::Struct> {
    (!map.is_empty()).then(|| prost_types::Struct {
        fields: map
            .iter()
            .map(|(k, v)| (k.clone(), value_from_json(v)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{limits, profile_violations};
    use super::*;
    use crm_proto::customers as pb;

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
        let odd_key =
            attributes(serde_json::json!({ "a": 1, "li@example.com": { "x": "a\u{0}" } }));
        assert_eq!(profile_violations(&odd_key), ["attributes[1].x"]);
    }
}
