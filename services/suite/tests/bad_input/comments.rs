//! What the proto comments say about a field: `(Required)`, `(Output only)`, `immutable`,
//! documented lower bounds, resource-name patterns and quoted examples.
use prost_reflect::FieldDescriptor;
use std::collections::HashMap;
use std::sync::Mutex;

/// Leading comment of a field in its .proto file (empty when none).
pub fn comment(field: &FieldDescriptor) -> String {
    static CACHE: Mutex<Option<HashMap<String, String>>> = Mutex::new(None);
    let mut cache = CACHE.lock().expect("comment cache");
    let cache = cache.get_or_insert_with(HashMap::new);
    cache
        .entry(field.full_name().to_owned())
        .or_insert_with(|| {
            let file = field.parent_file();
            file.file_descriptor_proto()
                .source_code_info
                .as_ref()
                .and_then(|info| info.location.iter().find(|l| l.path == field.path()))
                .map(|l| {
                    let mut c = l.leading_comments.clone().unwrap_or_default();
                    c.push(' ');
                    c.push_str(l.trailing_comments.as_deref().unwrap_or_default());
                    c
                })
                .unwrap_or_default()
        })
        .clone()
}

pub fn is_required(field: &FieldDescriptor) -> bool {
    comment(field).contains("(Required")
}

pub fn is_output_only(field: &FieldDescriptor) -> bool {
    comment(field).contains("(Output only")
}

pub fn is_immutable(field: &FieldDescriptor) -> bool {
    comment(field).contains("immutable")
}

/// The documented lower bound of a number excludes negatives (`> 0`, `>= 1`, `1..5`).
pub fn is_non_negative(field: &FieldDescriptor) -> bool {
    let c = comment(field);
    if c.contains("< 0") {
        return false; // e.g. "add (> 0) or remove (< 0)"
    }
    field.name() == "page_size"
        || c.contains("> 0")
        || c.contains(">= 0")
        || c.contains(">= 1")
        || c.contains("not negative")
        || c.split_whitespace().any(|w| {
            w.trim_matches(|ch: char| !ch.is_ascii_digit() && ch != '.')
                .split_once("..")
                .is_some_and(|(a, b)| a.parse::<i64>().is_ok() && b.parse::<i64>().is_ok())
        })
}

/// The first `` `a/{b}` ``-style resource pattern in a field's comment.
pub fn resource_pattern(field: &FieldDescriptor) -> Option<String> {
    let c = comment(field);
    c.split('`')
        .skip(1)
        .step_by(2)
        .find(|p| p.contains('/') && !p.contains(' '))
        .map(str::to_owned)
}

/// The first `"example"` in a field's comment.
pub fn quoted_example(field: &FieldDescriptor) -> Option<String> {
    let c = comment(field);
    c.split('"')
        .nth(1)
        .filter(|s| !s.is_empty() && !s.contains('{') && s.len() < 40)
        .map(str::to_owned)
}
