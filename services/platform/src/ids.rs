//! Typed resource ids: UUIDv7 (time-ordered, index-friendly) inside, resource names
//! (`customers/{uuid}`) at the edge.
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is required")]
    Missing,
    #[error("must look like `{0}/{{id}}`")]
    WrongCollection(&'static str),
    #[error("has an id that is not a UUID")]
    BadId,
}

/// Parses `{collection}/{uuid}` into the uuid.
pub fn parse_name(name: &str, collection: &'static str) -> Result<uuid::Uuid, NameError> {
    if name.is_empty() {
        return Err(NameError::Missing);
    }
    let id = name
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or(NameError::WrongCollection(collection))?;
    uuid::Uuid::try_parse(id).map_err(|_| NameError::BadId)
}

/// A request id (idempotency key): a UUID chosen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub uuid::Uuid);

impl RequestId {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Missing);
        }
        uuid::Uuid::try_parse(s)
            .map(Self)
            .map_err(|_| NameError::BadId)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Declares a typed id for a top-level collection: `resource_id!(CustomerId, "customers");`
#[macro_export]
macro_rules! resource_id {
    ($ty:ident, $collection:literal) => {
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            serde::Serialize,
            serde::Deserialize,
        )]
        pub struct $ty(pub uuid::Uuid);

        impl $ty {
            /// A new time-ordered id.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            /// Parses a resource name such as `customers/0190...`.
            pub fn parse_name(name: &str) -> Result<Self, $crate::ids::NameError> {
                $crate::ids::parse_name(name, $collection).map(Self)
            }

            pub fn name(&self) -> String {
                format!("{}/{}", $collection, self.0)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}/{}", $collection, self.0)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    resource_id!(WidgetId, "widgets");

    #[test]
    fn names_round_trip() {
        let id = WidgetId::generate();
        assert_eq!(WidgetId::parse_name(&id.name()), Ok(id));
        assert_eq!(id.to_string(), id.name());
    }

    #[test]
    fn bad_names_say_why() {
        assert_eq!(WidgetId::parse_name(""), Err(NameError::Missing));
        assert_eq!(
            WidgetId::parse_name("gadgets/1"),
            Err(NameError::WrongCollection("widgets"))
        );
        assert_eq!(
            WidgetId::parse_name("widgets"),
            Err(NameError::WrongCollection("widgets"))
        );
        assert_eq!(WidgetId::parse_name("widgets/nope"), Err(NameError::BadId));
    }

    #[test]
    fn request_ids_must_be_uuids() {
        assert!(RequestId::parse("0190f5a8-7b1c-7cc3-8a4e-0123456789ab").is_ok());
        assert_eq!(RequestId::parse(""), Err(NameError::Missing));
        assert_eq!(RequestId::parse("abc"), Err(NameError::BadId));
    }
}
