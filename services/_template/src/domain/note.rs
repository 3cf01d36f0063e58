//! A note (rename to your resource): what a caller may set, the bounds on it, and how an
//! update changes it.
use super::NoteId;
use chrono::{DateTime, Utc};
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
use crm_platform::validate;
use serde::{Deserialize, Serialize};

/// Fields an update mask may name.
pub const UPDATABLE_FIELDS: &[&str] = &["title", "body"];

/// Bounds on one request (`[template.limits]`; defaults and reasons in the config file).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_title_chars: usize,
    pub max_body_chars: usize,
}

impl Limits {
    /// Config problems, under `section`.
    pub fn validate(&self, section: &str, p: &mut Vec<String>) {
        for (key, n) in [
            ("max_title_chars", self.max_title_chars),
            ("max_body_chars", self.max_body_chars),
        ] {
            if !(1..=1_000_000).contains(&n) {
                p.push(format!("{section}.{key}: must be 1..=1000000"));
            }
        }
    }
}

/// What a caller sets on a note, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteFields {
    pub title: String,
    pub body: String,
}

impl NoteFields {
    /// The fields as sent, trimmed and checked against `limits`; only those named by `mask`
    /// when given (an update may send a partial note). Problems go to `v` by field name.
    pub fn parse(
        title: &str,
        body: &str,
        limits: &Limits,
        mask: Option<&UpdateMask>,
        v: &mut Violations,
    ) -> Self {
        let named = |field: &str| mask.is_none_or(|m| m.contains(field));
        let mut fields = Self::default();
        if named("title") {
            fields.title = validate::text("title", title, limits.max_title_chars, true, v);
        }
        if named("body") {
            fields.body = validate::multiline("body", body, limits.max_body_chars, false, v);
        }
        fields
    }
}

/// A stored note. `revision` counts its writes; its etag is derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: NoteId,
    pub fields: NoteFields,
    pub revision: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl Note {
    /// A new note, at revision 1.
    pub fn new(fields: NoteFields, now: DateTime<Utc>) -> Self {
        Self {
            id: NoteId::generate(),
            fields,
            revision: 1,
            create_time: now,
            update_time: now,
        }
    }

    /// The note after an update of the fields `mask` names: its next revision.
    pub fn updated(&self, patch: NoteFields, mask: &UpdateMask, now: DateTime<Utc>) -> Self {
        let mut next = self.clone();
        for field in mask.paths() {
            match field {
                "title" => next.fields.title.clone_from(&patch.title),
                "body" => next.fields.body.clone_from(&patch.body),
                _ => {} // UpdateMask::parse admits only UPDATABLE_FIELDS
            }
        }
        next.revision += 1;
        next.update_time = now;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_title_chars: 5,
        max_body_chars: 8,
    };

    fn mask(paths: &[&str]) -> UpdateMask {
        let paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
        UpdateMask::parse(
            &paths,
            UPDATABLE_FIELDS,
            "update_mask",
            &mut Violations::new(),
        )
        .expect("valid mask")
    }

    fn problems(title: &str, body: &str, mask: Option<&UpdateMask>) -> Vec<String> {
        let mut v = Violations::new();
        NoteFields::parse(title, body, &LIMITS, mask, &mut v);
        v.iter().map(|x| x.field.clone()).collect()
    }

    #[test]
    fn fields_are_checked_against_the_limits() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("Hi", "", &[]),
            ("  Hi  ", "one\ntwo", &[]),
            ("", "", &["title"]),
            ("   ", "", &["title"]),
            ("toolong", "", &["title"]),
            ("a\nb", "", &["title"]),
            ("Hi", "123456789", &["body"]),
            ("Hi", "nul\0", &["body"]),
            ("", "\u{202E}evil", &["title", "body"]),
        ];
        for (title, body, bad) in cases {
            assert_eq!(problems(title, body, None), *bad, "{title:?} {body:?}");
        }
    }

    #[test]
    fn an_update_checks_only_the_fields_it_names() {
        assert!(problems("", "ok", Some(&mask(&["body"]))).is_empty());
        assert_eq!(problems("", "ok", Some(&mask(&["*"]))), ["title"]);
        let mut v = Violations::new();
        let f = NoteFields::parse(" T ", "b", &LIMITS, None, &mut v);
        assert_eq!(f.title, "T", "trimmed");
    }

    #[test]
    fn an_update_changes_the_named_fields_and_the_revision() {
        let t0 = chrono::DateTime::UNIX_EPOCH;
        let t1 = t0 + chrono::TimeDelta::seconds(1);
        let note = Note::new(
            NoteFields {
                title: "a".into(),
                body: "b".into(),
            },
            t0,
        );
        let patch = NoteFields {
            title: "A".into(),
            body: "B".into(),
        };
        let next = note.updated(patch.clone(), &mask(&["body"]), t1);
        assert_eq!(
            (next.fields.title.as_str(), next.fields.body.as_str()),
            ("a", "B")
        );
        assert_eq!(
            (next.revision, next.update_time, next.create_time),
            (2, t1, t0)
        );
        assert_eq!(note.updated(patch.clone(), &mask(&["*"]), t1).fields, patch);
        assert_eq!(next.id, note.id);
    }
}
