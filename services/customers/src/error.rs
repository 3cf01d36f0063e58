//! Customer-specific errors. They are the platform's [`Error`] with the reasons documented in
//! `crm.customers.v1.CustomerErrorReason`, so there is one mapping to the wire.
use crate::domain::{CustomerId, Refusal};
use crm_platform::{Error, ErrorCode};

/// `google.rpc.ErrorInfo.domain` of this service.
pub const DOMAIN: &str = "customers.crm";

pub fn not_found(id: CustomerId) -> Error {
    Error::not_found(id).with_metadata("customer", id.name())
}

pub fn deleted(id: CustomerId) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "CUSTOMER_DELETED",
        format!("{id} is deleted; undelete it first"),
    )
    .with_metadata("customer", id.name())
}

/// A write to an erased customer. Reads still answer with its tombstone (state ERASED, no
/// personal data), like a soft-deleted customer's reads, so both say "it exists, erased".
pub fn erased(id: CustomerId) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "CUSTOMER_ERASED",
        format!("{id} was erased; it cannot be changed"),
    )
    .with_metadata("customer", id.name())
}

/// GetErasureStatus of a customer that exists and was never erased.
pub fn not_erased(id: CustomerId) -> Error {
    Error::new(
        ErrorCode::NotFound,
        "CUSTOMER_NOT_ERASED",
        format!("{id} was never erased; it has no erasure status"),
    )
    .with_metadata("customer", id.name())
}

pub fn merged(id: CustomerId, survivor: CustomerId) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "CUSTOMER_MERGED",
        format!("{id} was merged into {survivor}; use the survivor"),
    )
    .with_metadata("customer", id.name())
    .with_metadata("survivor", survivor.name())
}

/// A change the customer's state does not allow.
pub fn refused(id: CustomerId, why: Refusal) -> Error {
    match why {
        Refusal::Deleted => deleted(id),
        Refusal::Merged { survivor } => merged(id, survivor),
        Refusal::Erased => erased(id),
        Refusal::NotDeleted => failed_precondition(format!("{id} is not deleted")),
    }
}

pub fn external_id_taken() -> Error {
    let mut e = Error::invalid_field(
        "customer.external_id",
        "is already used by another customer",
    );
    e.code = ErrorCode::AlreadyExists;
    e.reason = "EXTERNAL_ID_TAKEN".into();
    e.message = "external_id is already used by another customer".into();
    e
}

pub fn failed_precondition(message: impl Into<String>) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "FAILED_PRECONDITION",
        message,
    )
}
