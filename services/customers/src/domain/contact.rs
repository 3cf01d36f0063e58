//! Contact data newtypes: an [`Email`] is always trimmed and lower-cased, a [`Phone`] is
//! always E.164, a [`Tag`] is always a short lower-case slug.
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest e-mail address that can be delivered (RFC 5321: a 256-octet path less `<>`).
pub const EMAIL_MAX_CHARS: usize = 254;
/// Longest phone number input, with spaces and punctuation (E.164 has at most 15 digits).
pub const PHONE_MAX_CHARS: usize = 32;

/// The platform's one-line text rules (no control or bidi characters, at most `max`
/// characters), as a yes/no for the newtypes below.
fn plain_line(raw: &str, max: usize) -> bool {
    let mut v = crm_platform::Violations::new();
    crm_platform::validate::text("", raw, max, true, &mut v);
    v.is_empty()
}

/// Debug of personal values: the type and the length, never the value, so a `{:?}` of a
/// profile in a log line or an error carries nothing personal.
fn redacted(f: &mut fmt::Formatter<'_>, kind: &str, value: &str) -> fmt::Result {
    write!(f, "{kind}(<redacted, {} chars>)", value.chars().count())
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        redacted(f, "Email", &self.0)
    }
}

impl Email {
    /// An address as RFC 5322 / 6531 allow it (checked by the `email_address` crate), with a
    /// domain of at least two labels, no display name, no domain literal, no quoted local
    /// part and no whitespace, control or bidi characters; trimmed and lower-cased.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const WHY: &str = "must be an e-mail address like name@example.com";
        let s = raw.trim().to_lowercase();
        if !plain_line(&s, EMAIL_MAX_CHARS) {
            return Err(
                "must be an e-mail address of at most 254 characters without control, bidi or line-break characters",
            );
        }
        if s.chars().any(char::is_whitespace) || s.contains('"') {
            return Err(WHY);
        }
        let options = email_address::Options::default()
            .with_minimum_sub_domains(2)
            .without_domain_literal()
            .without_display_text();
        email_address::EmailAddress::parse_with_options(&s, options).map_err(|_| WHY)?;
        Ok(Self(s))
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

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        redacted(f, "Phone", &self.0)
    }
}

impl Phone {
    /// A number that exists in its country's numbering plan (Google's libphonenumber data,
    /// through the `phonenumber` crate), stored in E.164. Input is international: a leading
    /// `+` or `00`, then digits with optional spaces, dashes, dots and brackets. A number
    /// without a country code is refused (the service cannot guess the country), and so are
    /// letters ("vanity" numbers) and extensions.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        // The wording predates the numbering-plan check; importers match on it.
        const WHY: &str = "must be an international number like +8613800138000 (E.164)";
        let trimmed = raw.trim();
        if !plain_line(trimmed, PHONE_MAX_CHARS) {
            return Err(WHY);
        }
        let rest = trimmed
            .strip_prefix('+')
            .or_else(|| trimmed.strip_prefix("00"))
            .ok_or(WHY)?;
        if !rest
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
        {
            return Err(WHY);
        }
        let number = phonenumber::parse(None, format!("+{rest}")).map_err(|_| WHY)?;
        if !phonenumber::is_valid(&number) {
            return Err(WHY);
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
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

/// Longest language tag accepted (RFC 5646 asks implementations to support at least 35).
pub const LANGUAGE_MAX_CHARS: usize = 35;

/// A BCP-47 language tag that is valid against the IANA Language Subtag Registry (the
/// `language-tags` crate), in its conventional case: "zh-cn" becomes "zh-CN".
pub fn language_tag(raw: &str) -> Result<String, &'static str> {
    const WHY: &str = "must be a BCP-47 language tag registered with IANA, like \"zh-CN\"";
    let trimmed = raw.trim();
    if !plain_line(trimmed, LANGUAGE_MAX_CHARS) {
        return Err(WHY);
    }
    let tag = language_tags::LanguageTag::parse(trimmed).map_err(|_| WHY)?;
    tag.validate().map_err(|_| WHY)?;
    Ok(tag.into_string())
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

/// A CLDR region code of a real region (`CN`, `DE`), as the phone numbering plans know them:
/// `ZZ` and lower case are refused.
pub fn region_code(raw: &str) -> Result<(), &'static str> {
    const WHY: &str = "must be a two-letter CLDR region code, e.g. \"CN\"";
    let known = raw.len() == 2
        && raw.chars().all(|c| c.is_ascii_uppercase())
        && raw.parse::<phonenumber::country::Id>().is_ok();
    if known { Ok(()) } else { Err(WHY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes_name_real_regions() {
        for ok in ["CN", "DE", "US", "HK"] {
            assert!(region_code(ok).is_ok(), "{ok}");
        }
        for bad in ["ZZ", "cn", "C", "CHN", "", "C\0"] {
            assert!(region_code(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse("  Li.Wei@Example.COM ").map(|e| e.0),
            Ok("li.wei@example.com".into())
        );
        assert!(Email::parse("zhang.san+hotel@mail.example.cn").is_ok());
        assert!(
            Email::parse("用户@例子.中国").is_ok(),
            "internationalised addresses"
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
            "a@-x.com",
            "Li <li@example.com>",
            "li@[127.0.0.1]",
            "\"a\u{202E}b\"@example.com",
            "a\u{202E}b@example.com",
            "a\u{2066}@example.com",
            "a\0@example.com",
            "a\n@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(200));
        assert!(Email::parse(&long).is_err(), "longer than 254 characters");
        assert!(Email::parse(&format!("{}@x.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn phones_are_checked_against_numbering_plans() {
        assert_eq!(
            Phone::parse("+86 138-0013-8000").map(|p| p.0),
            Ok("+8613800138000".into())
        );
        assert_eq!(
            Phone::parse("0049 (30) 1234567").map(|p| p.0),
            Ok("+49301234567".into())
        );
        assert_eq!(
            Phone::parse("+1 650 253 0000").map(|p| p.0),
            Ok("+16502530000".into())
        );
        for bad in [
            "13800138000",
            "+12",
            "+1 800 FLOWERS",
            "+0123456789",
            "+1234567890123456",
            "+999999999999999",
            "+86 138 0013 800",
            "+1 650 253 0000 ext. 1",
            "+86\u{0}13800138000",
            "",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Phone::parse(&format!("+86{}", " ".repeat(40))).is_err());
    }

    #[test]
    fn debug_never_shows_the_value() {
        let e = Email::parse("li.wei@example.com").expect("email");
        let p = Phone::parse("+86 138 0013 8000").expect("phone");
        let shown = format!("{e:?} {p:?} {:?}", Some(vec![e.clone()]));
        assert!(
            !shown.contains("li.wei") && !shown.contains("13800138000"),
            "{shown}"
        );
        assert_eq!(format!("{p:?}"), "Phone(<redacted, 14 chars>)");
    }

    #[test]
    fn language_tags_are_registered_bcp47() {
        assert_eq!(language_tag("zh-CN"), Ok("zh-CN".into()));
        assert_eq!(language_tag("en-us"), Ok("en-US".into()));
        assert_eq!(language_tag("zh-Hant-TW"), Ok("zh-Hant-TW".into()));
        for bad in ["", "x", "english", "zz-ZZ-1", "en_US", "zh-CN\0", "xx-YY"] {
            assert!(language_tag(bad).is_err(), "{bad:?}");
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
