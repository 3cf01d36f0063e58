//! Why a write is refused. The domain's rules say which refusal; the service maps each to the
//! platform error with its documented reason (`From<Refusal>` in `crate::error`).
use super::CustomerId;
use super::points;
use super::reverse::ReverseError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{customer} has {available} points available, {wanted} needed")]
    Insufficient {
        customer: CustomerId,
        wanted: i64,
        available: i64,
    },
    /// A credit beyond the largest balance (or beyond what the arithmetic holds).
    #[error("{customer} would have more than the {max_balance} points a customer may hold")]
    BalanceLimit {
        customer: CustomerId,
        max_balance: i64,
    },
    /// A total (lifetime counter, order sum, chain sequence) beyond `i64`.
    #[error("{0} would exceed the largest number of points the ledger holds")]
    Overflow(&'static str),
    #[error("{field}: {why}")]
    Invalid { field: &'static str, why: String },
    #[error("the programme does not allow transfers")]
    TransfersDisabled,
    #[error("order {0:?} already earned points")]
    OrderAlreadyEarned(String),
    /// `state` is the hold's state, or "expired" for an active hold past its expiry.
    #[error("{hold} is {state}")]
    HoldNotActive { hold: String, state: &'static str },
    #[error("order {order_id:?}: {error}")]
    Reverse {
        order_id: String,
        error: ReverseError,
    },
    /// The customer's wallet was merged into `survivor`'s: writes go there.
    #[error("{customer} was merged into {survivor}")]
    Merged {
        customer: CustomerId,
        survivor: CustomerId,
    },
    /// A state the rules never produce (a bug, or rows altered behind the service's back).
    #[error("{0}")]
    Broken(String),
}

impl Refusal {
    pub fn invalid(field: &'static str, why: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            why: why.into(),
        }
    }
}

/// Adds `by` to a lifetime counter or order total; beyond `i64` is refused, never wrapped.
pub fn add_to(counter: &mut i64, by: i64, what: &'static str) -> Result<(), Refusal> {
    *counter = points::add(*counter, by).map_err(|_| Refusal::Overflow(what))?;
    Ok(())
}
