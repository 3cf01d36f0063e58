//! Proto <-> domain conversions shared by the areas (no store types: rows convert next to
//! their queries).
use crm_platform::Violations;

/// An etag the caller sent back (empty: no precondition). One that is not current, ours or
/// not, is ABORTED later; here it only has to be a short line of text.
pub fn sent_etag(field: &str, sent: &str, v: &mut Violations) -> String {
    crm_platform::validate::text(field, sent, 64, false, v)
}
