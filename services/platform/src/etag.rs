//! Etags: an opaque tag derived from a row's revision counter. Writes compare the revision
//! in the same statement (`UPDATE .. WHERE revision = ?`) so a lost update is impossible.
use crate::error::Error;

/// The etag of revision `rev`, e.g. `W/"r7"`.
pub fn of_revision(rev: i64) -> String {
    format!("W/\"r{rev}\"")
}

/// The revision an etag names, or `None` when it is not one of ours.
pub fn parse(etag: &str) -> Option<i64> {
    etag.strip_prefix("W/\"r")?.strip_suffix('"')?.parse().ok()
}

/// Checks a caller's etag (empty means "no precondition") against the current revision.
pub fn check(sent: &str, current_rev: i64) -> Result<(), Error> {
    if sent.is_empty() || parse(sent) == Some(current_rev) {
        Ok(())
    } else {
        Err(Error::etag_mismatch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_mismatch() {
        assert_eq!(parse(&of_revision(42)), Some(42));
        assert!(check("", 3).is_ok());
        assert!(check(&of_revision(3), 3).is_ok());
        assert!(check(&of_revision(2), 3).is_err());
        assert!(check("garbage", 3).is_err());
    }
}
