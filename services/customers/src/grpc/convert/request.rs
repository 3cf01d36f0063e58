//! Request fields that are no resource: search queries, etags, actors.
use super::max_chars;
use crate::domain::{Email, Phone};
use crate::service::SearchQuery;
use crm_platform::Violations;
use crm_platform::validate::text;

/// A search query: one of an exact e-mail, an exact phone or a name prefix.
pub fn search_query(
    q: Option<&crm_proto::customers::search_customers_request::Query>,
    v: &mut Violations,
) -> Option<SearchQuery> {
    use crm_proto::customers::search_customers_request::Query;
    match q {
        Some(Query::Email(e)) => v.check("email", Email::parse(e)).map(SearchQuery::Email),
        Some(Query::Phone(p)) => v.check("phone", Phone::parse(p)).map(SearchQuery::Phone),
        Some(Query::NamePrefix(n)) => {
            let n = text("name_prefix", n, max_chars::NAME_PREFIX, false, v).to_lowercase();
            if n.chars().count() < 2 {
                v.add("name_prefix", "must be at least 2 characters");
                return None;
            }
            Some(SearchQuery::NamePrefix(n))
        }
        None => {
            v.add("query", "set one of email, phone or name_prefix");
            None
        }
    }
}

/// An etag sent back by the caller: short clean text (a foreign or stale one is the
/// service's ETAG_MISMATCH, not a parse error).
pub fn etag(field: &str, raw: &str, v: &mut Violations) -> String {
    text(field, raw, max_chars::ETAG, false, v)
}

/// Who asked for a change, for the audit log: the request's `actor` when set, else the one
/// from the call's metadata.
pub fn actor(raw: &str, from_metadata: String, v: &mut Violations) -> String {
    let actor = text("actor", raw, max_chars::ACTOR, false, v);
    if actor.is_empty() {
        from_metadata
    } else {
        actor
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::fields;
    use super::*;

    #[test]
    fn search_queries_are_bounded_text() {
        use crm_proto::customers::search_customers_request::Query;
        let check = |q: Query| {
            let mut v = Violations::new();
            let parsed = search_query(Some(&q), &mut v);
            (parsed.is_some() && v.is_empty(), fields(&v))
        };
        assert_eq!(check(Query::NamePrefix(" Li ".into())), (true, vec![]));
        for bad in ["x".repeat(60_000), "l".into(), "li\0".into(), "  ".into()] {
            assert_eq!(
                check(Query::NamePrefix(bad.clone())),
                (false, vec!["name_prefix".to_owned()]),
                "{bad:.20}"
            );
        }
        assert_eq!(
            check(Query::Email("a\u{202E}@example.com".into())).1,
            ["email"]
        );
        assert_eq!(check(Query::Phone("+999999999999999".into())).1, ["phone"]);
        let mut v = Violations::new();
        assert_eq!(actor("  ops ", "api".into(), &mut v), "ops");
        assert_eq!(actor("", "api".into(), &mut v), "api");
        actor("a\0", "api".into(), &mut v);
        assert_eq!(etag("etag", " W/\"r3\" ", &mut v), "W/\"r3\"");
        etag("etag", &"W".repeat(65), &mut v);
        etag("etag", "W/\"r3\"\0", &mut v);
        assert_eq!(fields(&v), ["actor", "etag", "etag"]);
    }
}
