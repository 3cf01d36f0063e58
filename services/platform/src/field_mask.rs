//! Update masks: which top-level fields an update touches.
use crate::error::Violations;
use std::collections::BTreeSet;

/// Most paths one mask may name (duplicates included): more than any resource has fields.
pub const MAX_PATHS: usize = 100;
/// Longest path echoed back in a violation.
const MAX_ECHO: usize = 64;

/// Whether `p` may be quoted in a violation: only what looks like a field path (lower-case
/// letters, digits, `_` and `.`), so a value sent by mistake where a path belongs (an e-mail,
/// a phone number) is never echoed into errors and the logs that carry them.
fn echoable(p: &str) -> bool {
    p.chars().count() <= MAX_ECHO
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
}

/// The validated paths of an update mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateMask(BTreeSet<String>);

impl UpdateMask {
    /// Validates `paths` against the updatable fields; `*` selects them all. Unknown and
    /// output-only paths are reported under `field` (e.g. "update_mask").
    pub fn parse(
        paths: &[String],
        updatable: &[&str],
        field: &str,
        violations: &mut Violations,
    ) -> Option<Self> {
        if paths.is_empty() {
            violations.add(field, "is required; name the fields to update, or \"*\"");
            return None;
        }
        if !crate::validate::max_items(
            &format!("{field}.paths"),
            paths.len(),
            MAX_PATHS,
            violations,
        ) {
            return None;
        }
        if paths.iter().any(|p| p == "*") {
            if paths.len() > 1 {
                violations.add(field, "\"*\" cannot be combined with other paths");
                return None;
            }
            return Some(Self(updatable.iter().map(|s| s.to_string()).collect()));
        }
        let mut ok = true;
        for (i, p) in paths.iter().enumerate() {
            if !updatable.contains(&p.as_str()) {
                violations.add(
                    format!("{field}.paths[{i}]"),
                    if echoable(p) {
                        format!("\"{p}\" is not an updatable field")
                    } else {
                        "is not an updatable field".to_owned()
                    },
                );
                ok = false;
            }
        }
        ok.then(|| Self(paths.iter().cloned().collect()))
    }

    /// [`parse`](Self::parse) of a request's `update_mask` (unset: no paths, a violation),
    /// reported under "update_mask".
    pub fn of_request(
        mask: Option<&prost_types::FieldMask>,
        updatable: &[&str],
        violations: &mut Violations,
    ) -> Option<Self> {
        let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
        Self::parse(paths, updatable, "update_mask", violations)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.0.contains(path)
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const UPDATABLE: &[&str] = &["display_name", "tags"];

    #[test]
    fn star_selects_all() {
        let mut v = Violations::new();
        let m = UpdateMask::parse(&["*".into()], UPDATABLE, "update_mask", &mut v).expect("valid");
        assert!(m.contains("tags") && m.contains("display_name"));
    }

    #[test]
    fn unknown_and_empty_paths_are_violations() {
        let mut v = Violations::new();
        assert!(
            UpdateMask::parse(
                &["tags".into(), "etag".into()],
                UPDATABLE,
                "update_mask",
                &mut v
            )
            .is_none()
        );
        assert!(UpdateMask::parse(&[], UPDATABLE, "update_mask", &mut v).is_none());
        let fields: Vec<_> = v.iter().map(|x| x.field.clone()).collect();
        assert_eq!(fields, ["update_mask.paths[1]", "update_mask"]);
    }

    #[test]
    fn only_field_like_paths_are_echoed() {
        let mut v = Violations::new();
        let paths = ["etag".into(), "li.wei@example.com".into(), "+86 138".into()];
        assert!(UpdateMask::parse(&paths, UPDATABLE, "update_mask", &mut v).is_none());
        let got: Vec<_> = v.iter().map(|x| x.description.clone()).collect();
        assert_eq!(
            got,
            [
                "\"etag\" is not an updatable field",
                "is not an updatable field",
                "is not an updatable field"
            ]
        );
    }

    #[test]
    fn masks_are_bounded_and_huge_paths_are_not_echoed() {
        let mut v = Violations::new();
        let many = vec!["tags".to_owned(); MAX_PATHS + 1];
        assert!(UpdateMask::parse(&many, UPDATABLE, "update_mask", &mut v).is_none());
        assert!(
            UpdateMask::parse(&["x".repeat(100_000)], UPDATABLE, "update_mask", &mut v).is_none()
        );
        let got: Vec<_> = v
            .iter()
            .map(|x| (x.field.clone(), x.description.len()))
            .collect();
        assert_eq!(got[0].0, "update_mask.paths");
        assert_eq!(
            got[1],
            (
                "update_mask.paths[0]".to_owned(),
                "is not an updatable field".len()
            )
        );
    }
}
