//! Erasure (right to be forgotten): personal data goes, non-personal classification stays so
//! aggregate reports still add up.
use super::customer::Profile;

pub const ERASED_DISPLAY_NAME: &str = "erased customer";

pub fn anonymise(p: &Profile) -> Profile {
    Profile {
        display_name: ERASED_DISPLAY_NAME.to_owned(),
        lifecycle_stage: p.lifecycle_stage,
        relationship_level: p.relationship_level,
        ..Profile::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;
    use crate::domain::customer::RelationshipLevel;

    #[test]
    fn personal_data_is_gone() {
        let p = Profile {
            display_name: "Li Wei".into(),
            primary_email: Email::parse("li@x.com").ok(),
            external_id: Some("u-1".into()),
            relationship_level: RelationshipLevel::Partner,
            ..Default::default()
        };
        let e = anonymise(&p);
        assert_eq!(e.display_name, ERASED_DISPLAY_NAME);
        assert!(e.primary_email.is_none() && e.external_id.is_none());
        assert_eq!(e.relationship_level, RelationshipLevel::Partner);
        assert!(e.name_keys().iter().all(|k| !k.contains("li")));
    }
}
