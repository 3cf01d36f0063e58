//! Duplicate scoring: why two customers look like one person, and how sure we are.
use super::customer::Profile;

pub const SAME_EMAIL: &str = "same_email";
pub const SAME_PHONE: &str = "same_phone";
pub const SAME_NAME_AND_BIRTH_DATE: &str = "same_name_and_birth_date";

/// The reasons `candidate` may duplicate `target`, with a 0-1 score; `None` if no reason.
pub fn score(target: &Profile, candidate: &Profile) -> Option<(Vec<&'static str>, f64)> {
    let mut reasons = Vec::new();
    let mut miss = 1.0;
    if target.emails().any(|e| candidate.emails().any(|c| c == e)) {
        reasons.push(SAME_EMAIL);
        miss *= 1.0 - 0.9;
    }
    if target.phones.iter().any(|p| candidate.phones.contains(p)) {
        reasons.push(SAME_PHONE);
        miss *= 1.0 - 0.8;
    }
    if target.birth_date.is_some()
        && target.birth_date == candidate.birth_date
        && target.full_name_key() == candidate.full_name_key()
    {
        reasons.push(SAME_NAME_AND_BIRTH_DATE);
        miss *= 1.0 - 0.6;
    }
    (!reasons.is_empty()).then(|| (reasons, ((1.0 - miss) * 1000.0_f64).round() / 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, Phone};
    use chrono::NaiveDate;

    #[test]
    fn evidence_adds_up() {
        let dob = NaiveDate::from_ymd_opt(1990, 5, 1);
        let a = Profile {
            display_name: "Li Wei".into(),
            birth_date: dob,
            primary_email: Email::parse("a@x.com").ok(),
            ..Default::default()
        };
        let b = Profile {
            display_name: "li  wei".into(),
            birth_date: dob,
            additional_emails: vec![Email::parse("A@x.com").expect("email")],
            phones: vec![Phone::parse("+4930123456").expect("phone")],
            ..Default::default()
        };
        let (reasons, s) = score(&a, &b).expect("duplicate");
        assert_eq!(reasons, [SAME_EMAIL, SAME_NAME_AND_BIRTH_DATE]);
        assert!((s - 0.96).abs() < 1e-9, "{s}");
        let stranger = Profile {
            display_name: "Li Wei".into(),
            ..Default::default()
        };
        assert!(
            score(&a, &stranger).is_none(),
            "a shared name alone is not evidence"
        );
    }
}
