//! What every answer is checked for.
use crate::cases::Bad;
use crate::report::{Failure, Report};
use crate::{generate, rows};
use prost_reflect::{DynamicMessage, MethodDescriptor, ReflectMessage, ServiceDescriptor, Value};
use tonic::{Code, Status};

/// A bounded number of field violations per error (the issue asks for e.g. 50 plus a count).
const MAX_VIOLATIONS: usize = 100;

#[allow(clippy::too_many_arguments)]
pub fn check(
    report: &mut Report,
    service: &ServiceDescriptor,
    method: &MethodDescriptor,
    path: &str,
    bad: Option<Bad>,
    may_succeed: bool,
    got: &Result<Option<DynamicMessage>, Status>,
    before: &rows::Counts,
    after: &rows::Counts,
    related: Option<&str>,
) {
    let written = rows::diff(before, after);
    match got {
        Ok(resp) => {
            let refused_in_band = resp.as_ref().is_some_and(reports_row_errors);
            if !may_succeed && !refused_in_band {
                report.fail(Failure::new(
                    service,
                    method,
                    path,
                    bad,
                    format!(
                        "OK (accepted){}",
                        if written.is_empty() {
                            String::new()
                        } else {
                            format!("; wrote {written}")
                        }
                    ),
                ));
                return;
            }
            if refused_in_band && !written.is_empty() {
                report.fail(Failure::new(
                    service,
                    method,
                    path,
                    bad,
                    format!("row refused in the response but wrote {written}"),
                ));
            }
            if let Some(resp) = resp {
                check_response(report, service, method, path, bad, resp);
            }
        }
        Err(status) => {
            check_status(report, service, method, path, bad, status, related);
            if !written.is_empty() {
                report.fail(Failure::new(
                    service,
                    method,
                    path,
                    bad,
                    format!("{} but wrote {written}", code_name(status.code())),
                ));
            }
        }
    }
}

pub fn check_status(
    report: &mut Report,
    service: &ServiceDescriptor,
    method: &MethodDescriptor,
    path: &str,
    bad: Option<Bad>,
    status: &Status,
    related: Option<&str>,
) {
    let mut fail = |what: String| {
        report.fail(Failure::new(
            service,
            method,
            path,
            bad,
            format!("{}: {what}", describe(status)),
        ));
    };
    let documented = matches!(
        status.code(),
        Code::InvalidArgument
            | Code::NotFound
            | Code::FailedPrecondition
            | Code::AlreadyExists
            | Code::Aborted
    );
    if !documented {
        fail("not a documented code".into());
        return;
    }
    if crm_platform::grpc::reason_of(status).is_none_or(|r| r.is_empty()) {
        fail("no ErrorInfo reason".into());
    }
    if status.code() == Code::InvalidArgument {
        let fields = crm_platform::grpc::violated_fields(status);
        if fields.is_empty() {
            fail("no field violation".into());
        } else if fields.len() > MAX_VIOLATIONS {
            fail(format!("{} field violations (unbounded)", fields.len()));
        } else if let Some(path) = related
            && !fields.iter().any(|f| names_path(f, path))
        {
            fail(format!(
                "no violation names the field (got {})",
                fields.join(", ")
            ));
        }
    }
}

/// The violation `field` is about `path` (the same, a part of it, or what contains it).
fn names_path(field: &str, path: &str) -> bool {
    let under = |a: &str, b: &str| {
        a == b
            || a.strip_prefix(b)
                .is_some_and(|r| r.starts_with('.') || r.starts_with('['))
    };
    let bare = |p: &str| p.replace("[0]", "");
    under(field, path)
        || under(path, field)
        || under(&bare(field), &bare(path))
        || under(&bare(path), &bare(field))
}

/// An OK response must be renderable: every timestamp in it in years 1..9999.
pub fn check_response(
    report: &mut Report,
    service: &ServiceDescriptor,
    method: &MethodDescriptor,
    path: &str,
    bad: Option<Bad>,
    resp: &DynamicMessage,
) {
    if let Some(at) = bad_timestamp(resp, "") {
        report.fail(Failure::new(
            service,
            method,
            path,
            bad,
            format!("OK, but the response holds a timestamp outside years 1..9999 at {at}"),
        ));
    }
}

fn bad_timestamp(msg: &DynamicMessage, at: &str) -> Option<String> {
    const MIN: i64 = -62_135_596_800; // 0001-01-01
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59
    if msg.descriptor().full_name() == generate::TIMESTAMP {
        let s = msg
            .get_field_by_name("seconds")
            .and_then(|v| v.as_i64())
            .unwrap_or_default();
        return (!(MIN..=MAX).contains(&s)).then(|| at.to_owned());
    }
    for (field, value) in msg.fields() {
        let here = format!(
            "{at}{}{}",
            if at.is_empty() { "" } else { "." },
            field.name()
        );
        match value {
            Value::Message(m) => {
                if let Some(p) = bad_timestamp(m, &here) {
                    return Some(p);
                }
            }
            Value::List(items) => {
                for (i, item) in items.iter().enumerate().take(100) {
                    if let Value::Message(m) = item
                        && let Some(p) = bad_timestamp(m, &format!("{here}[{i}]"))
                    {
                        return Some(p);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// A bulk call that answers per row (e.g. ImportCustomers) refuses a row in the response:
/// a non-empty `errors` list at any depth.
fn reports_row_errors(msg: &DynamicMessage) -> bool {
    msg.fields().any(|(field, value)| match value {
        Value::List(items) if field.name() == "errors" => !items.is_empty(),
        Value::List(items) => items
            .iter()
            .any(|i| matches!(i, Value::Message(m) if reports_row_errors(m))),
        Value::Message(m) => reports_row_errors(m),
        _ => false,
    })
}

/// `INVALID_ARGUMENT`, as gRPC spells it.
pub fn code_name(code: Code) -> String {
    let mut out = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// `INVALID_ARGUMENT REASON "message"` (the message cut short).
pub fn describe(status: &Status) -> String {
    let reason = crm_platform::grpc::reason_of(status).unwrap_or_default();
    let msg: String = status.message().chars().take(90).collect();
    format!("{} {reason} {msg:?}", code_name(status.code()))
}
