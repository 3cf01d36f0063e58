//! The error model shared by every service: one code table, a machine-readable reason, and
//! field violations. Services define their own error enums and convert them into [`Error`];
//! `grpc::to_status` is the one place that turns an [`Error`] into a wire status.
use std::borrow::Cow;
use std::fmt;

/// The suite's error codes; each maps to exactly one gRPC code in `grpc::to_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    Aborted,
    FailedPrecondition,
    ResourceExhausted,
    Unauthenticated,
    PermissionDenied,
    Unavailable,
    DeadlineExceeded,
    Internal,
}

/// One bad field of a request: `field` is the proto path, e.g. `customer.phones[1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// How many violations one error lists: the rest are counted, not listed, so that a request
/// with thousands of bad entries still gets an error small enough for a client's metadata
/// limit (gRPC details travel in a header).
pub const MAX_LISTED_VIOLATIONS: usize = 50;

/// Collects the problems of a request so the caller learns them all at once (the first
/// [`MAX_LISTED_VIOLATIONS`], and how many more there were).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<FieldViolation>, usize);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    fn push(&mut self, v: FieldViolation) {
        if self.0.len() < MAX_LISTED_VIOLATIONS {
            self.0.push(v);
        } else {
            self.1 += 1;
        }
    }

    /// Records the error of `result` under `field` and returns its value, if any.
    pub fn check<T, E: fmt::Display>(
        &mut self,
        field: impl Into<String>,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    /// Moves another collector's violations in, with `prefix.` before each field.
    pub fn extend_prefixed(&mut self, prefix: &str, other: Violations) {
        for v in other.0 {
            let field = if prefix.is_empty() {
                v.field
            } else {
                format!("{prefix}.{}", v.field)
            };
            self.push(FieldViolation {
                field,
                description: v.description,
            });
        }
        self.1 += other.1;
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every violation collected, listed or not.
    pub fn total(&self) -> usize {
        self.0.len() + self.1
    }

    /// Violations collected beyond [`MAX_LISTED_VIOLATIONS`].
    pub fn omitted(&self) -> usize {
        self.1
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldViolation> {
        self.0.iter()
    }

    /// `Ok(())` when nothing was collected, else an INVALID_ARGUMENT error listing them all.
    pub fn into_result(self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(self))
        }
    }
}

/// An error on its way to the caller. `source` is logged for internal errors, never sent.
#[derive(Debug)]
pub struct Error {
    pub code: ErrorCode,
    /// UPPER_SNAKE reason for `google.rpc.ErrorInfo`.
    pub reason: Cow<'static, str>,
    pub message: String,
    pub violations: Violations,
    pub metadata: Vec<(String, String)>,
    pub source: Option<anyhow::Error>,
}

impl Error {
    pub fn new(
        code: ErrorCode,
        reason: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            reason: reason.into(),
            message: message.into(),
            violations: Violations::new(),
            metadata: Vec::new(),
            source: None,
        }
    }

    pub fn invalid(violations: Violations) -> Self {
        let message = match (violations.0.as_slice(), violations.1) {
            ([one], 0) => format!("invalid {}: {}", one.field, one.description),
            (listed, 0) => format!("{} invalid fields", listed.len()),
            (listed, omitted) => format!(
                "{} invalid fields (the first {} are listed)",
                listed.len() + omitted,
                listed.len()
            ),
        };
        let omitted = violations.1;
        let err = Self {
            violations,
            ..Self::new(ErrorCode::InvalidArgument, "INVALID_ARGUMENT", message)
        };
        if omitted > 0 {
            err.with_metadata("violations_omitted", omitted.to_string())
        } else {
            err
        }
    }

    /// A single bad field.
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut v = Violations::new();
        v.add(field, description);
        Self::invalid(v)
    }

    pub fn not_found(what: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::NotFound,
            "NOT_FOUND",
            format!("{what} not found"),
        )
    }

    pub fn etag_mismatch() -> Self {
        Self::new(
            ErrorCode::Aborted,
            "ETAG_MISMATCH",
            "the etag does not match the current version; read it again and retry",
        )
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(ErrorCode::Internal, "INTERNAL", "internal error")
        }
    }

    pub fn unavailable(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(
                ErrorCode::Unavailable,
                "UNAVAILABLE",
                "a dependency is unavailable; retry with backoff",
            )
        }
    }

    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}: {}", self.code, self.reason, self.message)?;
        if let Some(source) = &self.source {
            write!(f, " ({source:#})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// SQLSTATE of a statement cancelled by PostgreSQL's `statement_timeout`.
const QUERY_CANCELED: &str = "57014";

impl From<sea_orm::DbErr> for Error {
    fn from(e: sea_orm::DbErr) -> Self {
        if crate::db::is_unreachable(&e) {
            return Self {
                reason: crate::gate::DATABASE_UNAVAILABLE.into(),
                ..Self::unavailable(e)
            };
        }
        let timed_out = matches!(
            &e,
            sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(s))
                | sea_orm::DbErr::Exec(sea_orm::RuntimeErr::SqlxError(s))
                if s.as_database_error()
                    .and_then(|d| d.code())
                    .is_some_and(|c| c == QUERY_CANCELED)
        );
        if timed_out {
            return Self {
                reason: "DATABASE_TIMEOUT".into(),
                ..Self::unavailable(e)
            };
        }
        Self::internal(e)
    }
}

impl<E: Into<Error>> From<sea_orm::TransactionError<E>> for Error
where
    E: std::error::Error,
{
    fn from(e: sea_orm::TransactionError<E>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(inner) => inner.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_collect_every_field() {
        let mut v = Violations::new();
        v.add("a", "bad");
        let mut inner = Violations::new();
        inner.add("b", "worse");
        v.extend_prefixed("customer", inner);
        let err = v.into_result().expect_err("two violations");
        assert_eq!(err.code, ErrorCode::InvalidArgument);
        let fields: Vec<_> = err.violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["a", "customer.b"]);
        assert_eq!(err.message, "2 invalid fields");
    }

    #[test]
    fn violations_beyond_the_cap_are_counted_not_listed() {
        let mut v = Violations::new();
        for i in 0..5000 {
            v.add(format!("customer.emails[{i}]"), "not an e-mail address");
        }
        let mut more = Violations::new();
        for i in 0..10 {
            more.add(format!("x{i}"), "bad");
        }
        v.extend_prefixed("p", more);
        assert_eq!(v.total(), 5010);
        let err = v.into_result().expect_err("invalid");
        assert_eq!(err.violations.iter().count(), MAX_LISTED_VIOLATIONS);
        assert_eq!(err.message, "5010 invalid fields (the first 50 are listed)");
        assert_eq!(
            err.metadata,
            [("violations_omitted".to_owned(), "4960".to_owned())]
        );
    }

    #[test]
    fn empty_violations_are_ok() {
        assert!(Violations::new().into_result().is_ok());
    }

    #[test]
    fn internal_keeps_the_cause_for_logs_only() {
        let err = Error::internal(anyhow::anyhow!("disk on fire"));
        assert_eq!(err.message, "internal error");
        assert!(err.to_string().contains("disk on fire"));
    }
}
