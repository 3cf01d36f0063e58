//! Bulk import rules: which stored customer a row upserts, and what it changes there.
use super::contact::Email;
use super::customer::{Customer, CustomerState, Profile};

/// What an imported row is matched by: its external id, else its primary e-mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertKey<'a> {
    ExternalId(&'a str),
    PrimaryEmail(&'a Email),
}

/// The key a row is upserted by; `None`: it has neither, so it cannot be matched.
pub fn upsert_key(row: &Profile) -> Option<UpsertKey<'_>> {
    match (&row.external_id, &row.primary_email) {
        (Some(x), _) => Some(UpsertKey::ExternalId(x)),
        (None, Some(e)) => Some(UpsertKey::PrimaryEmail(e)),
        (None, None) => None,
    }
}

/// Why a row cannot be written over `existing` (only active customers are updated by an
/// import), or `None`.
pub fn refused_over(existing: &Customer) -> Option<String> {
    (existing.state != CustomerState::Active).then(|| {
        format!(
            "{} is {}; it cannot be imported over",
            existing.id,
            existing.state.as_str()
        )
    })
}

/// Copies the fields `row` sets onto `existing` (an absent field keeps the stored value) and
/// returns their names.
pub fn update_with(existing: &mut Profile, row: Profile) -> Vec<&'static str> {
    let fields = row.set_fields();
    existing.apply(row, fields.iter().copied());
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn email() -> Email {
        Email::parse("li@example.com").expect("email")
    }

    #[test]
    fn rows_are_matched_by_external_id_then_email() {
        let e = email();
        let table = [
            (
                Some("u-1"),
                Some(e.clone()),
                Some(UpsertKey::ExternalId("u-1")),
            ),
            (Some("u-1"), None, Some(UpsertKey::ExternalId("u-1"))),
            (None, Some(e.clone()), Some(UpsertKey::PrimaryEmail(&e))),
            (None, None, None),
        ];
        for (external_id, primary_email, want) in table {
            let row = Profile {
                external_id: external_id.map(str::to_owned),
                primary_email,
                ..Default::default()
            };
            assert_eq!(upsert_key(&row), want, "{external_id:?}");
        }
    }

    #[test]
    fn only_active_customers_are_imported_over() {
        for (state, refused) in [
            (CustomerState::Active, false),
            (CustomerState::Deleted, true),
            (CustomerState::Merged, true),
            (CustomerState::Erased, true),
        ] {
            let mut c = Customer::new(Profile::default(), Utc::now());
            c.state = state;
            let why = refused_over(&c);
            assert_eq!(why.is_some(), refused, "{state:?}");
            if let Some(why) = why {
                assert!(why.contains(state.as_str()), "{why}");
            }
        }
    }

    #[test]
    fn a_row_changes_only_the_fields_it_sets() {
        let mut stored = Profile {
            display_name: "Li Wei".into(),
            given_name: "Wei".into(),
            primary_email: Some(email()),
            ..Default::default()
        };
        let row = Profile {
            display_name: "Li W.".into(),
            external_id: Some("u-1".into()),
            ..Default::default()
        };
        assert_eq!(
            update_with(&mut stored, row),
            ["display_name", "external_id"]
        );
        assert_eq!(stored.display_name, "Li W.");
        assert_eq!(stored.given_name, "Wei", "kept");
        assert_eq!(stored.primary_email, Some(email()), "kept");
        assert_eq!(stored.external_id.as_deref(), Some("u-1"));
    }
}
