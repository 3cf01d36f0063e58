//! Errors of this service: the platform's [`Error`] with this service's reasons, so there is
//! one mapping to the wire. Add a constructor per reason the proto documents.
use crate::domain::NoteId;
use crm_platform::Error;

/// `google.rpc.ErrorInfo.domain` of this service.
pub const DOMAIN: &str = "template.crm";

pub fn not_found(id: NoteId) -> Error {
    Error::not_found(id).with_metadata("note", id.name())
}
