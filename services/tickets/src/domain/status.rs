//! The status machine of a ticket.
use super::Status;
use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a ticket cannot move from {} to {}", .0.as_str(), .1.as_str())]
    Illegal(Status, Status),
    #[error("a solved ticket can be reopened only within {0} hours of being solved")]
    ReopenWindowPassed(i64),
}

/// Whether `to` may follow `from` at all (the table in crm.tickets.v1.Status).
pub fn allowed(from: Status, to: Status) -> bool {
    use Status::*;
    match from {
        New => matches!(to, Open | PendingCustomer | OnHold | Solved | Closed),
        Open => matches!(to, PendingCustomer | OnHold | Solved | Closed),
        PendingCustomer => matches!(to, Open | OnHold | Solved | Closed),
        OnHold => matches!(to, Open | PendingCustomer | Solved | Closed),
        Solved => matches!(to, Open | Closed),
        Closed => false,
    }
}

/// Checks a move at `now`; reopening a solved ticket is allowed within `reopen_window`.
pub fn check(
    from: Status,
    to: Status,
    solve_time: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    reopen_window: Duration,
) -> Result<(), TransitionError> {
    if !allowed(from, to) {
        return Err(TransitionError::Illegal(from, to));
    }
    if from == Status::Solved
        && to == Status::Open
        && solve_time.is_some_and(|t| now - t > reopen_window)
    {
        return Err(TransitionError::ReopenWindowPassed(
            reopen_window.num_hours(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn transition_table() {
        // (from, to, allowed)
        let table = [
            (New, Open, true),
            (New, PendingCustomer, true),
            (New, OnHold, true),
            (New, Solved, true),
            (New, Closed, true),
            (New, New, false),
            (Open, New, false),
            (Open, Open, false),
            (Open, PendingCustomer, true),
            (Open, OnHold, true),
            (Open, Solved, true),
            (Open, Closed, true),
            (PendingCustomer, Open, true),
            (PendingCustomer, New, false),
            (PendingCustomer, OnHold, true),
            (PendingCustomer, Solved, true),
            (OnHold, Open, true),
            (OnHold, PendingCustomer, true),
            (OnHold, New, false),
            (Solved, Open, true),
            (Solved, Closed, true),
            (Solved, PendingCustomer, false),
            (Solved, OnHold, false),
            (Solved, New, false),
            (Closed, Open, false),
            (Closed, Solved, false),
            (Closed, New, false),
            (Closed, Closed, false),
        ];
        for (from, to, ok) in table {
            assert_eq!(allowed(from, to), ok, "{from:?} -> {to:?}");
        }
        // Every pair is covered by the rules: nothing moves back to New, nothing leaves Closed.
        for from in Status::ALL {
            assert!(!allowed(*from, New));
            assert!(!allowed(Closed, *from));
        }
    }

    #[test]
    fn reopen_window() {
        let solved = Utc::now();
        let w = Duration::hours(72);
        assert!(check(Solved, Open, Some(solved), solved + Duration::hours(71), w).is_ok());
        assert_eq!(
            check(Solved, Open, Some(solved), solved + Duration::hours(73), w),
            Err(TransitionError::ReopenWindowPassed(72))
        );
        // Closing is allowed any time.
        assert!(check(Solved, Closed, Some(solved), solved + Duration::days(30), w).is_ok());
        assert_eq!(
            check(Closed, Open, Some(solved), solved, w),
            Err(TransitionError::Illegal(Closed, Open))
        );
    }
}
