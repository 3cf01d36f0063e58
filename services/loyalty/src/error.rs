//! Loyalty-specific errors. They are the platform's [`Error`] with the reasons documented in
//! `crm.loyalty.v1.LoyaltyErrorReason`, so there is one mapping to the wire.
use crate::domain::reverse::ReverseError;
use crate::domain::{CustomerId, Refusal};
use crm_platform::{Error, ErrorCode};

/// `google.rpc.ErrorInfo.domain` of this service.
pub const DOMAIN: &str = "loyalty.crm";

fn insufficient(customer: CustomerId, wanted: i64, available: i64) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "INSUFFICIENT_POINTS",
        format!("{customer} has {available} points available, {wanted} needed"),
    )
    .with_metadata("customer", customer.name())
    .with_metadata("available", available.to_string())
    .with_metadata("requested", wanted.to_string())
}

fn hold_not_active(name: &str, state: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "HOLD_NOT_ACTIVE",
        format!("{name} is {state}"),
    )
    .with_metadata("hold", name.to_owned())
    .with_metadata("state", state.to_owned())
}

fn transfers_disabled() -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "TRANSFERS_DISABLED",
        "the programme does not allow transfers",
    )
}

fn order_already_earned(order_id: &str) -> Error {
    Error::new(
        ErrorCode::AlreadyExists,
        "ALREADY_EXISTS",
        format!("order {order_id:?} already earned points"),
    )
    .with_metadata("order_id", order_id.to_owned())
}

fn reverse(e: ReverseError, order_id: &str) -> Error {
    let (code, reason) = match e {
        ReverseError::UnknownOrder => (ErrorCode::NotFound, "NOT_FOUND"),
        ReverseError::AlreadyReversed => (ErrorCode::FailedPrecondition, "ALREADY_REVERSED"),
        ReverseError::AmountUnknown => (ErrorCode::FailedPrecondition, "ORDER_AMOUNT_UNKNOWN"),
        ReverseError::CurrencyMismatch(..) => {
            let mut err = Error::invalid_field("refund_amount.currency_code", e.to_string());
            err.metadata.push(("order_id".into(), order_id.to_owned()));
            return err;
        }
    };
    Error::new(code, reason, format!("order {order_id:?}: {e}"))
        .with_metadata("order_id", order_id.to_owned())
}

/// A credit that would take `customer` beyond the largest balance (or beyond what the
/// arithmetic can hold).
fn balance_limit(customer: CustomerId, max_balance: i64) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "BALANCE_LIMIT",
        format!("{customer} would have more than the {max_balance} points a customer may hold"),
    )
    .with_metadata("customer", customer.name())
    .with_metadata("max_balance", max_balance.to_string())
}

/// A total (lifetime counter, order sum, outcome) beyond `i64`: refused, never wrapped.
fn overflow(what: &str) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        "BALANCE_LIMIT",
        format!("{what} would exceed the largest number of points the ledger holds"),
    )
}

/// The reason of [`merged`].
pub const CUSTOMER_MERGED: &str = "CUSTOMER_MERGED";

/// `customer`'s wallet was merged into `survivor`'s after the call resolved it: a retry
/// lands on the survivor (the Earn/Redeem/Adjust paths retry by themselves).
pub fn merged(customer: CustomerId, survivor: CustomerId) -> Error {
    Error::new(
        ErrorCode::FailedPrecondition,
        CUSTOMER_MERGED,
        format!("{customer} was merged into {survivor}; retry"),
    )
    .with_metadata("customer", customer.name())
    .with_metadata("survivor", survivor.name())
}

/// The survivor a [`merged`] error names.
pub fn merged_survivor(e: &Error) -> Option<CustomerId> {
    if e.reason != CUSTOMER_MERGED {
        return None;
    }
    let (_, name) = e.metadata.iter().find(|(k, _)| k == "survivor")?;
    CustomerId::parse_name(name).ok()
}

pub fn hold_not_found(name: &str) -> Error {
    Error::not_found(name).with_metadata("hold", name.to_owned())
}

fn invalid(field: &str, why: impl Into<String>) -> Error {
    Error::invalid_field(field, why)
}

/// The error a refused write answers with.
impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Insufficient {
                customer,
                wanted,
                available,
            } => insufficient(customer, wanted, available),
            Refusal::BalanceLimit {
                customer,
                max_balance,
            } => balance_limit(customer, max_balance),
            Refusal::Overflow(what) => overflow(what),
            Refusal::Invalid { field, why } => invalid(field, why),
            Refusal::OrderAlreadyEarned(order_id) => order_already_earned(&order_id),
            Refusal::HoldNotActive { hold, state } => hold_not_active(&hold, state),
            Refusal::Reverse { order_id, error } => reverse(error, &order_id),
            Refusal::TransfersDisabled => transfers_disabled(),
            Refusal::Merged { customer, survivor } => merged(customer, survivor),
            Refusal::Broken(problem) => Error::internal(anyhow::anyhow!(problem)),
        }
    }
}
