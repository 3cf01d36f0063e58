//! The read model's member rows (helper H3 fills this module).
//!
//! Blind indexes of custom attributes, shared by the event handlers that write
//! `member_attributes` and the segment compiler that tests them.
use crm_platform::pii::Keys;

/// The blind index of an attribute key.
pub fn attribute_key_hash(keys: &Keys, key: &str) -> String {
    keys.index("attribute.key", key)
}

/// The blind index of an attribute's value: its text (strings as they are, numbers and
/// booleans as serde_json writes them), bound to its key.
pub fn attribute_value_hash(keys: &Keys, key: &str, value_text: &str) -> String {
    keys.index("attribute.value", &format!("{key}\u{0}{value_text}"))
}
