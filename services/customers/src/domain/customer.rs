//! The customer aggregate and its rules.
use super::CustomerId;
use super::contact::{Email, Phone, Tag};
use chrono::{DateTime, NaiveDate, Utc};
use crm_platform::Violations;
use serde::{Deserialize, Serialize};

/// Declares a closed set of values stored as lower-case strings.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn from_db(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

string_enum!(Gender { Unspecified = "unspecified", Female = "female", Male = "male", Other = "other", Undisclosed = "undisclosed" });
string_enum!(Channel { Email = "email", Sms = "sms", Push = "push", Phone = "phone" });
string_enum!(LifecycleStage { Lead = "lead", New = "new", Active = "active", AtRisk = "at_risk", Churned = "churned" });
string_enum!(
    /// After Kotler; ordered from the weakest to the strongest relationship.
    RelationshipLevel { Unspecified = "unspecified", Basic = "basic", Passive = "passive", Responsible = "responsible", Proactive = "proactive", Partner = "partner" }
);
string_enum!(CustomerState { Active = "active", Deleted = "deleted", Merged = "merged", Erased = "erased" });

// The macro cannot derive these, and `Unspecified` is not always the default.
#[allow(clippy::derivable_impls)]
impl Default for Gender {
    fn default() -> Self {
        Self::Unspecified
    }
}
#[allow(clippy::derivable_impls)]
impl Default for LifecycleStage {
    fn default() -> Self {
        Self::New
    }
}
#[allow(clippy::derivable_impls)]
impl Default for RelationshipLevel {
    fn default() -> Self {
        Self::Unspecified
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PostalAddress {
    pub label: String,
    pub address_lines: Vec<String>,
    pub locality: String,
    pub administrative_area: String,
    pub postal_code: String,
    pub region_code: String,
    pub recipient: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportantDate {
    pub kind: String,
    pub date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub channel: Channel,
    pub granted: bool,
    pub source: String,
    pub update_time: DateTime<Utc>,
}

/// Everything a caller can set about a customer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Profile {
    pub display_name: String,
    pub given_name: String,
    pub family_name: String,
    pub gender: Gender,
    pub birth_date: Option<NaiveDate>,
    pub primary_email: Option<Email>,
    pub additional_emails: Vec<Email>,
    /// The first one is primary.
    pub phones: Vec<Phone>,
    pub addresses: Vec<PostalAddress>,
    pub preferred_channel: Option<Channel>,
    pub language_code: String,
    pub time_zone: String,
    /// Sorted, no duplicates.
    pub tags: Vec<Tag>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub important_dates: Vec<ImportantDate>,
    pub consents: Vec<Consent>,
    pub lifecycle_stage: LifecycleStage,
    pub relationship_level: RelationshipLevel,
    pub external_id: Option<String>,
}

/// Fields an update mask may name (proto field names).
pub const UPDATABLE_FIELDS: &[&str] = &[
    "display_name",
    "given_name",
    "family_name",
    "gender",
    "birth_date",
    "primary_email",
    "additional_emails",
    "phones",
    "addresses",
    "preferred_channel",
    "language_code",
    "time_zone",
    "tags",
    "attributes",
    "important_dates",
    "consents",
    "lifecycle_stage",
    "relationship_level",
    "external_id",
];

impl Profile {
    /// Rules that span fields; field-level parsing already happened at the edge.
    pub fn validate(&self, v: &mut Violations) {
        if self.display_name.trim().is_empty() {
            v.add("display_name", "is required");
        }
        if self.display_name.chars().count() > 200 {
            v.add("display_name", "must be at most 200 characters");
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.consents.iter().enumerate() {
            if !seen.insert(c.channel) {
                v.add(
                    format!("consents[{i}].channel"),
                    "appears twice; give one consent per channel",
                );
            }
        }
        if let Some(e) = &self.primary_email
            && self.additional_emails.contains(e)
        {
            v.add("additional_emails", "must not repeat primary_email");
        }
    }

    /// Copies the fields named by `paths` from `from`.
    pub fn apply<'a>(&mut self, from: Profile, paths: impl Iterator<Item = &'a str>) {
        let mut from = from;
        for p in paths {
            match p {
                "display_name" => self.display_name = std::mem::take(&mut from.display_name),
                "given_name" => self.given_name = std::mem::take(&mut from.given_name),
                "family_name" => self.family_name = std::mem::take(&mut from.family_name),
                "gender" => self.gender = from.gender,
                "birth_date" => self.birth_date = from.birth_date,
                "primary_email" => self.primary_email = from.primary_email.take(),
                "additional_emails" => {
                    self.additional_emails = std::mem::take(&mut from.additional_emails)
                }
                "phones" => self.phones = std::mem::take(&mut from.phones),
                "addresses" => self.addresses = std::mem::take(&mut from.addresses),
                "preferred_channel" => self.preferred_channel = from.preferred_channel,
                "language_code" => self.language_code = std::mem::take(&mut from.language_code),
                "time_zone" => self.time_zone = std::mem::take(&mut from.time_zone),
                "tags" => self.tags = std::mem::take(&mut from.tags),
                "attributes" => self.attributes = std::mem::take(&mut from.attributes),
                "important_dates" => {
                    self.important_dates = std::mem::take(&mut from.important_dates)
                }
                "consents" => self.consents = std::mem::take(&mut from.consents),
                "lifecycle_stage" => self.lifecycle_stage = from.lifecycle_stage,
                "relationship_level" => self.relationship_level = from.relationship_level,
                "external_id" => self.external_id = from.external_id.take(),
                _ => {}
            }
        }
    }

    /// The fields that are set (non-empty), for upserts where absence means "keep".
    pub fn set_fields(&self) -> Vec<&'static str> {
        let checks: [(&str, bool); 19] = [
            ("display_name", !self.display_name.is_empty()),
            ("given_name", !self.given_name.is_empty()),
            ("family_name", !self.family_name.is_empty()),
            ("gender", self.gender != Gender::Unspecified),
            ("birth_date", self.birth_date.is_some()),
            ("primary_email", self.primary_email.is_some()),
            ("additional_emails", !self.additional_emails.is_empty()),
            ("phones", !self.phones.is_empty()),
            ("addresses", !self.addresses.is_empty()),
            ("preferred_channel", self.preferred_channel.is_some()),
            ("language_code", !self.language_code.is_empty()),
            ("time_zone", !self.time_zone.is_empty()),
            ("tags", !self.tags.is_empty()),
            ("attributes", !self.attributes.is_empty()),
            ("important_dates", !self.important_dates.is_empty()),
            ("consents", !self.consents.is_empty()),
            (
                "lifecycle_stage",
                self.lifecycle_stage != LifecycleStage::default(),
            ),
            (
                "relationship_level",
                self.relationship_level != RelationshipLevel::Unspecified,
            ),
            ("external_id", self.external_id.is_some()),
        ];
        checks
            .into_iter()
            .filter(|(_, set)| *set)
            .map(|(f, _)| f)
            .collect()
    }

    pub fn emails(&self) -> impl Iterator<Item = &Email> {
        self.primary_email
            .iter()
            .chain(self.additional_emails.iter())
    }

    /// Lower-case, single-spaced display name: the key for "same name" dedupe.
    pub fn full_name_key(&self) -> String {
        self.display_name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    }

    /// Lower-case names a prefix search can start at: the display name, each of its words,
    /// and the given and family names.
    pub fn name_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = std::iter::once(self.full_name_key())
            .chain(self.display_name.split_whitespace().map(str::to_lowercase))
            .chain([
                self.given_name.trim().to_lowercase(),
                self.family_name.trim().to_lowercase(),
            ])
            .filter(|k| !k.is_empty())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    pub profile: Profile,
    pub state: CustomerState,
    pub merged_into: Option<CustomerId>,
    /// Bumped by every write; the etag is derived from it.
    pub revision: i64,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    pub delete_time: Option<DateTime<Utc>>,
}

impl crm_platform::cache::Cacheable for Customer {
    const KIND: &'static str = "customer";
}

impl Customer {
    pub fn new(profile: Profile, now: DateTime<Utc>) -> Self {
        Self {
            id: CustomerId::generate(),
            profile,
            state: CustomerState::Active,
            merged_into: None,
            revision: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        }
    }

    pub fn etag(&self) -> String {
        crm_platform::etag::of_revision(self.revision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            display_name: "Li  Wei".into(),
            given_name: "Wei".into(),
            family_name: "Li".into(),
            ..Default::default()
        }
    }

    #[test]
    fn name_keys_cover_prefix_search() {
        assert_eq!(profile().name_keys(), ["li", "li wei", "wei"]);
        assert_eq!(profile().full_name_key(), "li wei");
    }

    #[test]
    fn validation_reports_each_problem() {
        let now = Utc::now();
        let consent = Consent {
            channel: Channel::Sms,
            granted: true,
            source: "web".into(),
            update_time: now,
        };
        let p = Profile {
            display_name: " ".into(),
            consents: vec![consent.clone(), consent],
            ..Default::default()
        };
        let mut v = Violations::new();
        p.validate(&mut v);
        let fields: Vec<_> = v.iter().map(|x| x.field.clone()).collect();
        assert_eq!(fields, ["display_name", "consents[1].channel"]);
    }

    #[test]
    fn apply_copies_only_masked_fields() {
        let mut p = profile();
        let from = Profile {
            display_name: "New".into(),
            given_name: "X".into(),
            ..Default::default()
        };
        p.apply(from, ["display_name"].into_iter());
        assert_eq!(p.display_name, "New");
        assert_eq!(p.given_name, "Wei");
    }

    #[test]
    fn set_fields_lists_what_an_upsert_changes() {
        let p = Profile {
            display_name: "A".into(),
            birth_date: NaiveDate::from_ymd_opt(1990, 1, 2),
            ..Default::default()
        };
        assert_eq!(p.set_fields(), ["display_name", "birth_date"]);
    }

    #[test]
    fn string_enums_round_trip() {
        for s in LifecycleStage::ALL {
            assert_eq!(LifecycleStage::from_db(s.as_str()), Some(*s));
        }
        assert!(RelationshipLevel::Partner > RelationshipLevel::Basic);
    }
}
