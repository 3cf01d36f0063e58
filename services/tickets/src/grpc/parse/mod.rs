//! Proto -> domain: request parsers that record every violation under the field's proto
//! path, so a handler only parses, calls the service and converts the answer back. The
//! shared pieces are here, each aggregate's requests in its module.
mod csat;
mod org;
mod tickets;

pub use csat::{satisfaction, survey_token};
pub use org::{agent_patch, new_agent, new_macro, new_team, team_patch};
pub use tickets::{new_message, new_ticket, ticket_patch, ticket_query};

use crate::domain::{AgentId, CustomerId, TeamId, TicketId, WireEnum};
use crate::error::DOMAIN;
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
pub use crm_platform::grpc::{page_size, text};
use crm_platform::validate::max_items;
use tonic::Status;

pub const MAX_TEXT: usize = 20_000;

/// The value parsed from a request, or INVALID_ARGUMENT listing every violation.
pub fn parsed<T>(v: Violations, value: Option<T>) -> Result<T, Status> {
    crm_platform::grpc::parsed(v, value, DOMAIN)
}

pub fn ticket(field: &str, name: &str, v: &mut Violations) -> Option<TicketId> {
    v.check(field, TicketId::parse_name(name))
}

pub fn customer(field: &str, name: &str, v: &mut Violations) -> Option<CustomerId> {
    v.check(field, CustomerId::parse_name(name))
}

pub fn team(field: &str, name: &str, v: &mut Violations) -> Option<TeamId> {
    v.check(field, TeamId::parse_name(name))
}

pub fn agent(field: &str, name: &str, v: &mut Violations) -> Option<AgentId> {
    v.check(field, AgentId::parse_name(name))
}

/// An optional resource name: empty is `None`, else it must parse.
pub fn opt<T, E: std::fmt::Display>(
    field: &str,
    name: &str,
    parse: impl Fn(&str) -> Result<T, E>,
    v: &mut Violations,
) -> Option<T> {
    if name.is_empty() {
        None
    } else {
        v.check(field, parse(name))
    }
}

/// A required enum value (UNSPECIFIED and unknown numbers are violations).
pub fn required_enum<E: WireEnum>(field: &str, code: i32, v: &mut Violations) -> Option<E> {
    let e = E::from_code(code);
    if e.is_none() {
        v.add(
            field,
            if code == 0 {
                "is required"
            } else {
                "is not a known value"
            },
        );
    }
    e
}

/// An optional enum value: UNSPECIFIED is `None`; unknown numbers are violations.
pub fn opt_enum<E: WireEnum>(field: &str, code: i32, v: &mut Violations) -> Option<E> {
    if code == 0 {
        return None;
    }
    required_enum(field, code, v)
}

/// Longest etag and survey token accepted (ours are far shorter).
const MAX_TOKEN: usize = 64;
/// Longest page token accepted (ours are far shorter).
const MAX_PAGE_TOKEN: usize = 2048;

/// Lower-case labels ([a-z0-9_-], 1..=40 characters), at most `max`, duplicates dropped.
/// Over `max`, the entries are not looked at (one violation, however long the list).
pub fn labels(field: &str, items: &[String], max: usize, v: &mut Violations) -> Vec<String> {
    if !max_items(field, items.len(), max, v) {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, s) in items.iter().enumerate() {
        let t = s.trim();
        let ok = !t.is_empty()
            && t.len() <= 40
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            v.add(format!("{field}[{i}]"), "must match [a-z0-9_-]{1,40}");
        } else if !out.iter().any(|x| x == t) {
            out.push(t.to_owned());
        }
    }
    out
}

/// An etag sent back by a caller: one line, short (a stale or foreign one is ABORTED later).
pub fn etag(field: &str, s: &str, v: &mut Violations) {
    text(field, s, MAX_TOKEN, false, v);
}

/// A page size and token: the size not negative (larger than the maximum is lowered), the
/// token one bounded line (its signature is checked by the service).
pub fn page(size: i32, token: &str, v: &mut Violations) -> u32 {
    text("page_token", token, MAX_PAGE_TOKEN, false, v);
    page_size(size, v)
}

/// Keeps the violations of `all` that concern a field named in `mask` (`{prefix}.{field}`,
/// `{prefix}.{field}[..]`, ...): an update may send a partial resource.
fn masked(all: Violations, prefix: &str, mask: &UpdateMask, v: &mut Violations) {
    for x in all.iter() {
        let rest = x
            .field
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('.'))
            .unwrap_or(&x.field);
        let top = rest.split(['.', '[']).next().unwrap_or_default();
        if mask.contains(top) {
            v.add(x.field.clone(), x.description.clone());
        }
    }
}

/// `value` when `field` is in the mask.
fn pick<T>(mask: &UpdateMask, field: &str, value: T) -> Option<T> {
    mask.contains(field).then_some(value)
}

/// The message when present, else a violation.
fn required<'a, T>(field: &str, m: Option<&'a T>, v: &mut Violations) -> Option<&'a T> {
    if m.is_none() {
        v.add(field, "is required");
    }
    m
}

/// The resource an update sends (the default, with a violation, when missing: its other
/// fields are still checked).
pub fn whole<T: Clone + Default>(field: &str, m: Option<&T>, v: &mut Violations) -> T {
    required(field, m, v).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::parse::csat::survey_token;

    fn fields(v: &Violations) -> Vec<String> {
        v.iter().map(|x| x.field.clone()).collect()
    }

    #[test]
    fn a_list_over_its_bound_is_one_violation() {
        let mut v = Violations::new();
        let many: Vec<String> = (0..100_000).map(|i| format!("Bad Tag {i}")).collect();
        assert!(labels("tags", &many, 20, &mut v).is_empty());
        assert_eq!(fields(&v), ["tags"]);
        let mut v = Violations::new();
        let tags = ["a".to_owned(), "a".to_owned(), "b-1".to_owned()];
        assert_eq!(labels("tags", &tags, 3, &mut v), ["a", "b-1"]);
        labels("tags", &["a\0".to_owned()], 3, &mut v);
        assert_eq!(fields(&v), ["tags[0]"]);
    }

    #[test]
    fn tokens_and_etags_are_one_bounded_line() {
        let mut v = Violations::new();
        survey_token("", &mut v);
        etag("etag", "1\0", &mut v);
        etag("long", &"9".repeat(65), &mut v);
        page(-1, &"x".repeat(MAX_PAGE_TOKEN + 1), &mut v);
        assert_eq!(
            fields(&v),
            ["survey_token", "etag", "long", "page_token", "page_size"]
        );
        let mut ok = Violations::new();
        etag("etag", "", &mut ok);
        assert_eq!(page(0, "", &mut ok), 0);
        assert!(ok.is_empty());
    }
}
