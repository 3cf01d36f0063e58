//! Ticket-specific errors: the platform's [`Error`] with the reasons documented in
//! `crm.tickets.v1.TicketErrorReason`, so there is one mapping to the wire.
use crate::domain::status::TransitionError;
use crm_platform::{Error, ErrorCode};

/// `google.rpc.ErrorInfo.domain` of this service.
pub const DOMAIN: &str = "tickets.crm";

pub fn transition(e: TransitionError) -> Error {
    match e {
        TransitionError::Illegal(from, to) => Error::new(
            ErrorCode::FailedPrecondition,
            "ILLEGAL_TRANSITION",
            e.to_string(),
        )
        .with_metadata("from", from.as_str())
        .with_metadata("to", to.as_str()),
        TransitionError::ReopenWindowPassed(_) => Error::new(
            ErrorCode::FailedPrecondition,
            "REOPEN_WINDOW_PASSED",
            e.to_string(),
        ),
    }
}

pub fn not_found(name: impl std::fmt::Display) -> Error {
    Error::not_found(&name).with_metadata("resource", name.to_string())
}

/// A customer's own token reaching a ticket that is not that customer's, or that does not
/// exist: the same answer for both, so a refusal does not reveal which tickets exist (AIP-211).
pub fn not_own_resource() -> Error {
    Error::new(
        ErrorCode::PermissionDenied,
        crm_platform::auth::NOT_OWN_RESOURCE,
        "this token may only reach its own customer's tickets",
    )
}

pub fn customer_not_found(name: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "CUSTOMER_NOT_FOUND",
        format!("{name} does not exist in the customers service"),
    )
    .with_metadata("customer", name.to_owned())
}

/// The customer was erased (data-protection request): no new tickets for it.
pub fn customer_erased(name: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "CUSTOMER_ERASED",
        format!("{name} was erased; no tickets can be filed for it"),
    )
    .with_metadata("customer", name.to_owned())
}

/// The customer is soft-deleted: no new tickets until it is undeleted.
pub fn customer_deleted(name: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "CUSTOMER_DELETED",
        format!("{name} is deleted; undelete it in the customers service first"),
    )
    .with_metadata("customer", name.to_owned())
}

pub fn at_capacity(agent: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "AGENT_AT_CAPACITY",
        format!("{agent} has reached max_open_tickets or is unavailable"),
    )
    .with_metadata("agent", agent.to_owned())
}

pub fn closed(ticket: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "TICKET_CLOSED",
        format!("{ticket} is closed"),
    )
    .with_metadata("ticket", ticket.to_owned())
}

pub fn survey_answered(ticket: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "SURVEY_ALREADY_ANSWERED",
        format!("the survey of {ticket} was answered already"),
    )
}

pub fn survey_not_open(ticket: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "SURVEY_NOT_OPEN",
        format!("{ticket} has no open survey with this token"),
    )
}

pub fn in_use(what: &str, why: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "IN_USE",
        format!("{what} {why}"),
    )
}

pub fn category_taken(category: &str, team: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "CATEGORY_TAKEN",
        format!("{team} already routes category {category}"),
    )
    .with_metadata("team", team.to_owned())
}

pub fn escalation_taken(team: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "ESCALATION_TEAM_TAKEN",
        format!("{team} is the escalation team already"),
    )
    .with_metadata("team", team.to_owned())
}

pub fn macro_exists(code: &str) -> Error {
    Error::new(
        ErrorCode::AlreadyExists,
        "MACRO_EXISTS",
        format!("macro {code:?} exists"),
    )
}

pub fn customer_mismatch(why: String, customer: &str) -> Error {
    Error::new(ErrorCode::FailedPrecondition, "CUSTOMER_MISMATCH", why)
        .with_metadata("customer", customer.to_owned())
}

pub fn not_open(ticket: &str, status: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "TICKET_NOT_OPEN",
        format!("{ticket} is {status}; only open tickets are assigned"),
    )
    .with_metadata("ticket", ticket.to_owned())
    .with_metadata("status", status.to_owned())
}
