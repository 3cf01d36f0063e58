//! The read model's rows: members and their tags, attributes (blind index), dates, consents,
//! orders and tickets. Event handlers write through [`events`], the refresh job through
//! [`refresh`]; segments and sending read through [`reads`]. Every write that changes what
//! a segment could test sets `segments_dirty` and `update_time` (the membership job's cue).
mod events;
mod reads;
mod rebuild;
mod refresh;

pub use events::*;
pub use reads::*;
pub use rebuild::*;
pub use refresh::*;

use crm_platform::pii::Keys;

/// The blind index of a custom attribute's key.
pub fn attribute_key_hash(keys: &Keys, key: &str) -> String {
    keys.index("attribute.key", key)
}

/// The blind index of a custom attribute's value under its key; `value_text` is the value
/// as [`attribute_value_text`] writes it.
pub fn attribute_value_hash(keys: &Keys, key: &str, value_text: &str) -> String {
    keys.index("attribute.value", &format!("{key}\u{0}{value_text}"))
}

/// The text of an attribute value the blind index is taken of: strings as they are, numbers
/// and bools as serde_json writes them (whole numbers as integers, so `5` from a rule and
/// `5.0` from a `google.protobuf.Value` agree), lists and objects as compact JSON; None for
/// null.
pub fn attribute_value_text(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                // Whole: exact in i64 below 2^53.
                #[allow(clippy::cast_possible_truncation)]
                let whole = f as i64;
                whole.to_string()
            }
            _ => n.to_string(),
        }),
        other => Some(other.to_string()),
    }
}

/// The sealed profile's additional authenticated data: a sealed value copied to another
/// member's row does not open there.
pub fn profile_aad(id: uuid::Uuid) -> String {
    format!("members:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attribute_values_have_one_text_whatever_the_number_form() {
        assert_eq!(attribute_value_text(&json!(5)).as_deref(), Some("5"));
        assert_eq!(attribute_value_text(&json!(5.0)).as_deref(), Some("5"));
        assert_eq!(attribute_value_text(&json!(2.5)).as_deref(), Some("2.5"));
        assert_eq!(attribute_value_text(&json!(true)).as_deref(), Some("true"));
        assert_eq!(
            attribute_value_text(&json!("gold")).as_deref(),
            Some("gold")
        );
        assert_eq!(attribute_value_text(&json!(null)), None);
        assert_eq!(
            attribute_value_text(&json!(["a", 1])).as_deref(),
            Some(r#"["a",1]"#)
        );
    }
}
