//! What a caller without `customers.pii.read` sees of personal values (OWASP API3, excessive
//! data exposure): enough to recognise a record on a screen, not enough to contact or
//! identify the person. Pure functions of the stored (normalised) values.

/// Most mask characters shown for a name or line, so a mask does not reveal its length.
const MAX_STARS: usize = 5;

/// `li.wei@example.com` -> `l***@example.com`: the first character of the local part and the
/// domain (which is what agents need to tell a work from a private address).
pub fn email(e: &str) -> String {
    match e.rsplit_once('@') {
        Some((local, domain)) => match local.chars().next() {
            Some(first) => format!("{first}***@{domain}"),
            None => format!("***@{domain}"),
        },
        None => "***".to_owned(),
    }
}

/// `+8613800138000` -> `+86 138****8000`: country code, the first three and the last four
/// digits of the national number. Shorter national numbers keep only their last two digits.
pub fn phone(e164: &str) -> String {
    let Ok(number) = phonenumber::parse(None, e164) else {
        return "****".to_owned();
    };
    let code = number.code().value();
    let n = number.national();
    let national = format!("{}{}", "0".repeat(n.zeros().into()), n.value());
    let n = national.len();
    if n >= 8 {
        format!("+{code} {}****{}", &national[..3], &national[n - 4..])
    } else {
        format!("+{code} ****{}", &national[n.saturating_sub(2)..])
    }
}

/// `Wei` -> `W**`, `Alexandra` -> `A*****`: the first character and one `*` per further
/// character, at most five. Empty stays empty (nothing to hide, nothing to show).
pub fn name(s: &str) -> String {
    let mut chars = s.trim().chars();
    match chars.next() {
        Some(first) => {
            let stars = chars.count().clamp(1, MAX_STARS);
            format!("{first}{}", "*".repeat(stars))
        }
        None => String::new(),
    }
}

/// A street line or postal code: nothing of it but that it exists.
pub fn hidden(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        "***".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_keep_the_first_character_and_the_domain() {
        assert_eq!(email("li.wei@example.com"), "l***@example.com");
        assert_eq!(email("x@mail.example.cn"), "x***@mail.example.cn");
        assert_eq!(email("老王@例子.中国"), "老***@例子.中国");
        assert_eq!(email("no-at-sign"), "***");
        assert_eq!(email("@example.com"), "***@example.com");
    }

    #[test]
    fn phones_keep_country_code_first_three_and_last_four() {
        assert_eq!(phone("+8613800138000"), "+86 138****8000");
        assert_eq!(phone("+4915112345678"), "+49 151****5678");
        assert_eq!(phone("+14155550123"), "+1 415****0123");
        assert_eq!(phone("+3761234"), "+376 ****34", "short national numbers");
        assert_eq!(phone("garbage"), "****");
    }

    #[test]
    fn names_keep_one_character_and_hide_the_length() {
        assert_eq!(name("Wei"), "W**");
        assert_eq!(name("Li"), "L*");
        assert_eq!(name("L"), "L*", "a single character is not shown bare");
        assert_eq!(name("Alexandra Papadopoulou"), "A*****");
        assert_eq!(name("王小明"), "王**");
        assert_eq!(name("  "), "");
        assert_eq!(name(""), "");
    }

    #[test]
    fn lines_are_hidden_entirely() {
        assert_eq!(hidden("No. 1 Jianguo Road"), "***");
        assert_eq!(hidden(""), "");
    }
}
