//! Canned replies: `{{path}}` placeholders, `{{path|fallback}}` when the value is unknown.
use std::collections::BTreeMap;

/// The placeholders a macro may use.
pub const PLACEHOLDERS: &[&str] = &[
    "customer.given_name",
    "customer.display_name",
    "ticket.id",
    "ticket.subject",
    "agent.display_name",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{{{0}}}}}; known: {known}", known = PLACEHOLDERS.join(", "))]
    Unknown(String),
    #[error("a \"{{{{\" is not closed")]
    Unclosed,
}

enum Piece<'a> {
    Text(&'a str),
    Slot { path: &'a str, fallback: &'a str },
}

fn pieces(body: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("{{") {
        out.push(Piece::Text(&rest[..i]));
        let after = &rest[i + 2..];
        let j = after.find("}}").ok_or(TemplateError::Unclosed)?;
        let inner = &after[..j];
        let (path, fallback) = inner.split_once('|').unwrap_or((inner, ""));
        let path = path.trim();
        if !PLACEHOLDERS.contains(&path) {
            return Err(TemplateError::Unknown(path.to_owned()));
        }
        out.push(Piece::Slot { path, fallback });
        rest = &after[j + 2..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Checks a macro body when it is saved.
pub fn validate(body: &str) -> Result<(), TemplateError> {
    pieces(body).map(|_| ())
}

/// Renders `body` with `values`; a missing or empty value gives the fallback (or nothing).
pub fn render(body: &str, values: &BTreeMap<&str, String>) -> Result<String, TemplateError> {
    let mut s = String::with_capacity(body.len());
    for p in pieces(body)? {
        match p {
            Piece::Text(t) => s.push_str(t),
            Piece::Slot { path, fallback } => match values.get(path) {
                Some(v) if !v.is_empty() => s.push_str(v),
                _ => s.push_str(fallback),
            },
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_values_and_fallbacks() {
        let mut v = BTreeMap::new();
        v.insert("ticket.subject", "Broken kettle".to_owned());
        v.insert("customer.given_name", String::new());
        let out = render(
            "Hi {{customer.given_name|there}}, about \"{{ ticket.subject }}\"{{agent.display_name}}.",
            &v,
        );
        assert_eq!(out.as_deref(), Ok("Hi there, about \"Broken kettle\"."));
    }

    #[test]
    fn rejects_unknown_and_unclosed() {
        assert_eq!(
            validate("{{customer.password}}"),
            Err(TemplateError::Unknown("customer.password".into()))
        );
        assert_eq!(
            validate("Hi {{customer.given_name"),
            Err(TemplateError::Unclosed)
        );
        assert!(validate("no placeholders } { at all").is_ok());
    }
}
