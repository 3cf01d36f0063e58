//! Errors of this service: the platform's [`Error`] with this service's reasons, so there is
//! one mapping to the wire. Add a constructor per reason the proto documents.
use crate::domain::{ItemId, RecommendationId};
use crm_platform::Error;

/// `google.rpc.ErrorInfo.domain` of this service.
pub const DOMAIN: &str = "recommendations.crm";

pub fn item_not_found(id: &ItemId) -> Error {
    Error::not_found(id.name()).with_metadata("item", id.name())
}

pub fn recommendation_not_found(id: RecommendationId) -> Error {
    Error::not_found(id.name()).with_metadata("recommendation", id.name())
}

/// CreateItem of an id the catalogue holds.
pub fn item_exists(id: &ItemId) -> Error {
    Error::new(
        crm_platform::ErrorCode::AlreadyExists,
        "ITEM_EXISTS",
        format!("{} exists already", id.name()),
    )
    .with_metadata("item", id.name())
}
