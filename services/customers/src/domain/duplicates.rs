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

/// Candidates are listed by evidence, strongest first: the rank (0 = strongest) of a
/// candidate matching on e-mail, phone and name + birth date. The store orders by it in SQL,
/// so duplicates can be paged; it orders the same way as [`score`] (tested below).
pub fn evidence_rank(email: bool, phone: bool, name_and_birth_date: bool) -> i32 {
    match (email, phone, name_and_birth_date) {
        (true, true, true) => 0,
        (true, true, false) => 1,
        (true, false, true) => 2,
        (false, true, true) => 3,
        (true, false, false) => 4,
        (false, true, false) => 5,
        _ => 6,
    }
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

    #[test]
    fn evidence_rank_orders_like_the_score() {
        let dob = NaiveDate::from_ymd_opt(1990, 5, 1);
        let target = Profile {
            display_name: "Li Wei".into(),
            birth_date: dob,
            primary_email: Email::parse("a@x.com").ok(),
            phones: vec![Phone::parse("+4930123456").expect("phone")],
            ..Default::default()
        };
        let mut ranked = Vec::new();
        for bits in 1..8u8 {
            let (e, p, n) = (bits & 4 != 0, bits & 2 != 0, bits & 1 != 0);
            let candidate = Profile {
                display_name: if n { "li wei" } else { "someone else" }.into(),
                birth_date: dob,
                primary_email: e.then(|| target.primary_email.clone()).flatten(),
                phones: if p { target.phones.clone() } else { vec![] },
                ..Default::default()
            };
            let (_, s) = score(&target, &candidate).expect("some evidence");
            ranked.push((evidence_rank(e, p, n), s));
        }
        ranked.sort_by_key(|r| r.0);
        assert!(
            ranked
                .windows(2)
                .all(|w| w[0].1 > w[1].1 && w[0].0 < w[1].0),
            "{ranked:?}"
        );
    }
}
