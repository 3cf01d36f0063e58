//! Resource names (and a few values) seen in OK responses, for later requests to name.
use prost_reflect::{DynamicMessage, MethodDescriptor, Value};
use std::collections::BTreeMap;

/// `customers/abc/holds/def` -> `customers/*/holds/*`; a pattern's `{x}` segments likewise.
pub fn shape(name: &str) -> String {
    name.split('/')
        .enumerate()
        .map(|(i, s)| if i % 2 == 1 { "*" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

fn looks_like_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() >= 2
        && parts.len().is_multiple_of(2)
        && parts.iter().step_by(2).all(|p| {
            // Collections are lower case or lower camel case (`couponPools`).
            p.starts_with(|c: char| c.is_ascii_lowercase())
                && p.chars()
                    .all(|c| c.is_ascii_alphabetic() || c == '_' || c == '-')
        })
        && parts.iter().skip(1).step_by(2).all(|p| !p.is_empty())
}

/// Resource names seen in OK responses, by shape, oldest first.
#[derive(Default)]
pub struct Pool {
    pub(crate) names: BTreeMap<String, Vec<String>>,
    /// Service -> the shape its first Create* method returned (its main collection).
    pub(crate) primary: BTreeMap<String, String>,
    /// (service, field name) -> the newest value in that service's answers, for
    /// `Override::Remembered` fields.
    pub(crate) remembered: BTreeMap<(String, String), String>,
}

impl Pool {
    /// Records every `name` field (at any depth) of an OK response.
    pub fn collect(&mut self, service: &str, method: &MethodDescriptor, msg: &DynamicMessage) {
        let mut found = Vec::new();
        let mut remembered = BTreeMap::new();
        collect_names(msg, 0, &mut found, &mut remembered);
        for (field, value) in remembered {
            self.remembered.insert((service.to_owned(), field), value);
        }
        if method.name().starts_with("Create")
            && let Some(first) = found.first()
        {
            self.primary
                .entry(service.to_owned())
                .or_insert_with(|| shape(first));
        }
        for n in found {
            let v = self.names.entry(shape(&n)).or_default();
            if !v.contains(&n) {
                v.push(n);
            }
        }
    }

    pub(crate) fn shapes(&self) -> impl Iterator<Item = &String> {
        self.names.keys()
    }
}

fn collect_names(
    msg: &DynamicMessage,
    depth: usize,
    out: &mut Vec<String>,
    remembered: &mut BTreeMap<String, String>,
) {
    if depth > 4 {
        return;
    }
    for (field, value) in msg.fields() {
        match value {
            Value::String(s) if field.name() == "name" && looks_like_name(s) => {
                out.push(s.clone());
            }
            Value::String(s) if !s.is_empty() && remembers(field.name()) => {
                remembered.insert(field.name().to_owned(), s.clone());
            }
            Value::Message(m) => collect_names(m, depth + 1, out, remembered),
            Value::List(items) => {
                for item in items.iter().take(5) {
                    if let Value::Message(m) = item {
                        collect_names(m, depth + 1, out, remembered);
                    }
                }
            }
            _ => {}
        }
    }
}

fn remembers(field_name: &str) -> bool {
    crate::generate::remembered_fields().any(|n| n == field_name)
}
