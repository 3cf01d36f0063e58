//! The list-valued fields (ticket tags, merges and SLA misses, message attachments, team
//! categories and category skills, agent skills) are JSON columns of their row: each is read
//! and written whole with its row and never filtered on, where a child table would cost a
//! query per list on every read and a delete-and-insert on every write. Every scalar is a
//! column of its own.
//!
//! The JSON is a versioned document: the row's `json_version` names the format its JSON
//! columns were written in. Reads decode every version ever written ([`decode`]); writes
//! write [`JSON_VERSION`]. Changing a format is a new version (a module beside [`v1`], whose
//! types never change) with a decode path from the old one, so rows written before keep
//! reading and a migration can rewrite them.
use crm_platform::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The format writes use.
pub const JSON_VERSION: i32 = 1;

/// Format 1. `tags`, `skills`: `[string]`; `merged_from`: `[uuid]`; `categories`:
/// `[category]` and `category_skills`: `{category: skill}` (categories as their storage
/// string); `sla_missed`: `[`[`Miss`]`]`; `attachments`: `[`[`Attachment`]`]`. Frozen: the
/// migration that introduced the columns writes these too.
pub mod v1 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Serialize};

    /// A target missed at its due time (target as `sla_events` names it).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Miss {
        pub target: String,
        pub due: DateTime<Utc>,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Attachment {
        pub file_name: String,
        pub content_type: String,
        pub size_bytes: i64,
        pub uri: String,
    }
}

/// A JSON column in the current format.
pub fn encode<T: Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(Error::internal)
}

/// A JSON column written in format `version`, as that format's type.
pub fn decode<T: DeserializeOwned>(version: i32, column: &str, text: &str) -> Result<T, Error> {
    match version {
        1 => serde_json::from_str(text)
            .map_err(|e| Error::internal(anyhow::anyhow!("corrupt {column}: {e}"))),
        v => Err(Error::internal(anyhow::anyhow!(
            "{column}: unknown json_version {v}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_versions_it_knows_and_refuses_the_others() {
        let tags = encode(&vec!["kettle", "warranty"]).expect("encode");
        assert_eq!(
            decode::<Vec<String>>(JSON_VERSION, "tags", &tags).expect("decode"),
            ["kettle", "warranty"]
        );
        let miss: Vec<v1::Miss> = decode(
            1,
            "sla_missed",
            r#"[{"target":"resolution","due":"2026-11-19T15:00:00Z"}]"#,
        )
        .expect("v1");
        assert_eq!(miss[0].target, "resolution");
        assert!(decode::<Vec<String>>(2, "tags", &tags).is_err());
        assert!(decode::<Vec<String>>(1, "tags", "{").is_err());
    }
}
