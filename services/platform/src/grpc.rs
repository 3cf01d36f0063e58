//! The one mapping from the suite's [`Error`] to a gRPC [`tonic::Status`] with rich details
//! (`google.rpc.ErrorInfo` always, `google.rpc.BadRequest` for invalid arguments), plus the
//! small helpers every adapter needs.
use crate::error::{Error, ErrorCode};
use std::collections::HashMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub fn code_of(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InvalidArgument => Code::InvalidArgument,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::AlreadyExists => Code::AlreadyExists,
        ErrorCode::Aborted => Code::Aborted,
        ErrorCode::FailedPrecondition => Code::FailedPrecondition,
        ErrorCode::ResourceExhausted => Code::ResourceExhausted,
        ErrorCode::Unauthenticated => Code::Unauthenticated,
        ErrorCode::PermissionDenied => Code::PermissionDenied,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::DeadlineExceeded => Code::DeadlineExceeded,
        ErrorCode::Internal => Code::Internal,
    }
}

/// Converts an error into a status for `domain` (e.g. "customers.crm"). Internal and
/// unavailable errors are logged here with their cause; the caller sees only the opaque text.
pub fn to_status(err: Error, domain: &str) -> Status {
    if let Some(source) = &err.source {
        match err.code {
            ErrorCode::Internal => {
                tracing::error!(error = format!("{source:#}"), reason = %err.reason, "internal error")
            }
            _ => {
                tracing::warn!(error = format!("{source:#}"), reason = %err.reason, "request failed on a dependency")
            }
        }
    }
    let metadata: HashMap<String, String> = err
        .metadata
        .into_iter()
        .map(|(k, v)| (clip(&k, MAX_DETAIL_CHARS), clip(&v, MAX_DETAIL_CHARS)))
        .collect();
    let mut details = ErrorDetails::with_error_info(err.reason.into_owned(), domain, metadata);
    for v in err.violations.iter() {
        details.add_bad_request_violation(
            clip(&v.field, MAX_DETAIL_CHARS),
            clip(&v.description, MAX_DETAIL_CHARS),
        );
    }
    Status::with_error_details(
        code_of(err.code),
        clip(&err.message, MAX_MESSAGE_CHARS),
        details,
    )
}

/// Longest error message sent: a status travels in HTTP/2 headers, and a client's header
/// limit (often 16 KiB) would turn a huge echo of bad input into RESOURCE_EXHAUSTED.
const MAX_MESSAGE_CHARS: usize = 1024;
/// Longest field name, description or metadata value in the details (50 violations at most).
const MAX_DETAIL_CHARS: usize = 100;

/// `s` cut to at most `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// Maps a service's error type to a status through its `Into<Error>` conversion.
pub trait IntoStatus<T> {
    fn into_status(self, domain: &str) -> Result<T, Status>;
}

impl<T, E: Into<Error>> IntoStatus<T> for Result<T, E> {
    fn into_status(self, domain: &str) -> Result<T, Status> {
        self.map_err(|e| to_status(e.into(), domain))
    }
}

/// Reads `google.rpc.ErrorInfo.reason` from a status (clients and tests use it).
pub fn reason_of(status: &Status) -> Option<String> {
    status.get_details_error_info().map(|info| info.reason)
}

/// Field names of `google.rpc.BadRequest` in a status, in order.
pub fn violated_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|br| br.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// The idempotency key of a mutation: its `request_id` (a UUID, required) and a hash of the
/// request with the request id cleared (`clear`), so a replay with another payload is caught.
pub fn idempotency_key<M: prost::Message + Clone>(
    req: &M,
    request_id: &str,
    method: &'static str,
    clear: impl FnOnce(&mut M),
    v: &mut crate::Violations,
) -> Option<crate::idempotency::IdempotencyKey> {
    let id = v.check("request_id", crate::ids::RequestId::parse(request_id))?;
    let mut payload = req.clone();
    clear(&mut payload);
    Some(crate::idempotency::IdempotencyKey::new(
        id,
        method,
        &payload.encode_to_vec(),
    ))
}

/// [`idempotency_key`] of a request message whose id field is `request_id` (every mutation
/// of the suite's APIs): `request_key!(req, "CreateWidget", &mut v)`.
#[macro_export]
macro_rules! request_key {
    ($req:ident, $method:literal, $v:expr) => {
        $crate::grpc::idempotency_key(
            &$req,
            &$req.request_id,
            $method,
            |r| r.request_id.clear(),
            $v,
        )
    };
}

/// Who is calling, for audit logs: the `x-crm-actor` metadata, else "api".
pub fn actor(metadata: &tonic::metadata::MetadataMap) -> String {
    metadata
        .get("x-crm-actor")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(128).collect())
        .unwrap_or_else(|| "api".to_owned())
}

/// A page size from a request: negative is a violation; 0 means the service default.
pub fn page_size(raw: i32, v: &mut crate::Violations) -> u32 {
    u32::try_from(raw).unwrap_or_else(|_| {
        v.add("page_size", "must not be negative");
        0
    })
}

/// One line of text; see [`crate::validate::text`] (control and bidi characters refused).
pub fn text(field: &str, s: &str, max: usize, required: bool, v: &mut crate::Violations) -> String {
    crate::validate::text(field, s, max, required, v)
}

/// A violation unless `n > 0`.
pub fn positive(field: &str, n: i64, v: &mut crate::Violations) {
    if n <= 0 {
        v.add(field, "must be > 0");
    }
}

/// The value parsed from a request, or INVALID_ARGUMENT listing every violation collected
/// while parsing it. `value` is `None` only when something was reported.
pub fn parsed<T>(v: crate::Violations, value: Option<T>, domain: &str) -> Result<T, Status> {
    v.into_result().into_status(domain)?;
    value.ok_or_else(|| {
        to_status(
            Error::internal(anyhow::anyhow!(
                "request parsed to nothing without a violation"
            )),
            domain,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Violations;

    #[test]
    fn bad_request_carries_every_violation_and_the_reason() {
        let mut v = Violations::new();
        v.add("customer.display_name", "required");
        v.add("customer.phones[0]", "not a phone number");
        let status = to_status(Error::invalid(v), "customers.crm");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(reason_of(&status).as_deref(), Some("INVALID_ARGUMENT"));
        assert_eq!(
            violated_fields(&status),
            ["customer.display_name", "customer.phones[0]"]
        );
        assert_eq!(
            status.get_details_error_info().map(|i| i.domain).as_deref(),
            Some("customers.crm")
        );
    }

    #[test]
    fn echoed_input_is_clipped_so_the_status_fits_in_headers() {
        let huge = "x".repeat(100_000);
        let mut v = Violations::new();
        for _ in 0..5000 {
            v.add(huge.clone(), huge.clone());
        }
        let err = Error::invalid(v).with_metadata("value", huge.clone());
        let err = Error {
            message: huge.clone(),
            ..err
        };
        let status = to_status(err, "customers.crm");
        assert!(status.message().chars().count() <= MAX_MESSAGE_CHARS + 1);
        let fields = violated_fields(&status);
        assert_eq!(fields.len(), crate::error::MAX_LISTED_VIOLATIONS);
        assert!(
            fields
                .iter()
                .all(|f| f.chars().count() <= MAX_DETAIL_CHARS + 1)
        );
        assert!(
            status.details().len() < 12 * 1024,
            "{}",
            status.details().len()
        );
        assert_eq!(clip("héllo", 2), "hé…");
        assert_eq!(clip("hé", 2), "hé");
    }

    #[test]
    fn internal_errors_are_opaque() {
        let status = to_status(
            Error::internal(anyhow::anyhow!("password=hunter2 leaked")),
            "customers.crm",
        );
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
        assert_eq!(reason_of(&status).as_deref(), Some("INTERNAL"));
    }
}
