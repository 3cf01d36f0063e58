//! Errors of this service: the platform's [`Error`] with this service's reasons, so there is
//! one mapping to the wire.
use crate::domain::campaign::{Action, State};
use crate::domain::{CampaignId, CustomerId, SegmentId};
use crm_platform::Error;
use crm_platform::error::ErrorCode;

/// `google.rpc.ErrorInfo.domain` of this service.
pub const DOMAIN: &str = "campaigns.crm";

pub fn segment_not_found(id: SegmentId) -> Error {
    Error::not_found(id).with_metadata("segment", id.name())
}

pub fn campaign_not_found(id: CampaignId) -> Error {
    Error::not_found(id).with_metadata("campaign", id.name())
}

pub fn member_not_found(id: CustomerId) -> Error {
    Error::not_found(id.member_name()).with_metadata("member", id.member_name())
}

/// A lifecycle move the campaign's state does not allow.
pub fn invalid_transition(id: CampaignId, from: State, action: Action) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "INVALID_CAMPAIGN_TRANSITION",
        format!("a {} campaign cannot {}", from.code(), action.verb()),
    )
    .with_metadata("campaign", id.name())
    .with_metadata("state", from.code())
}

/// A precondition the resource's current state does not meet (e.g. deleting a segment a
/// live campaign uses).
pub fn precondition(reason: &'static str, message: impl Into<String>) -> Error {
    Error::new(ErrorCode::FailedPrecondition, reason, message)
}
