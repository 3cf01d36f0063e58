//! Contact data newtypes: an [`Email`] is always trimmed and lower-cased, a [`Phone`] is
//! always E.164, a [`Tag`] is always a short lower-case slug.
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let s = raw.trim().to_lowercase();
        let (local, domain) = s
            .split_once('@')
            .ok_or("must be an e-mail address like name@example.com")?;
        let ok = !local.is_empty()
            && local.len() <= 64
            && s.len() <= 254
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !s.chars().any(char::is_whitespace)
            && s.matches('@').count() == 1
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if ok {
            Ok(Self(s))
        } else {
            Err("must be an e-mail address like name@example.com")
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Normalises to E.164: keeps a leading `+` and the digits, drops spaces, dashes, dots and
    /// brackets; `00` is an international prefix. A number without a country code is refused
    /// (the service cannot guess the country).
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const WHY: &str = "must be an international number like +8613800138000 (E.164)";
        let trimmed = raw.trim();
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(r) => (true, r),
            None => match trimmed.strip_prefix("00") {
                Some(r) => (true, r),
                None => (false, trimmed),
            },
        };
        if !plus {
            return Err(WHY);
        }
        let mut digits = String::with_capacity(16);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(WHY),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(WHY);
        }
        Ok(Self(format!("+{digits}")))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tag(String);

impl Tag {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let s = raw.trim().to_lowercase();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-:.".contains(c));
        if ok {
            Ok(Self(s))
        } else {
            Err("must be 1-64 characters of a-z, 0-9, _ - : .")
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse("  Li.Wei@Example.COM ").map(|e| e.0),
            Ok("li.wei@example.com".into())
        );
        for bad in [
            "",
            "no-at",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "@x.com",
            "a@.com",
            "a@x..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(
            Phone::parse("+86 138-0013-8000").map(|p| p.0),
            Ok("+8613800138000".into())
        );
        assert_eq!(
            Phone::parse("0049 (30) 1234567").map(|p| p.0),
            Ok("+49301234567".into())
        );
        for bad in [
            "13800138000",
            "+12",
            "+1 800 FLOWERS",
            "+0123456789",
            "+1234567890123456",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_are_slugs() {
        assert_eq!(Tag::parse(" VIP ").map(|t| t.0), Ok("vip".into()));
        assert!(Tag::parse("room:sea-view").is_ok());
        assert!(Tag::parse("two words").is_err());
        assert!(Tag::parse("").is_err());
    }
}
