//! proto <-> domain, one file per aggregate. Parsing collects every violation with its
//! proto field path; the adapter prefixes the request field (e.g. `customer.`).
mod activity;
mod address;
mod attributes;
mod consent;
mod customer;
mod dates;
mod enums;
mod insights;
mod masked;
mod profile;
mod request;
#[cfg(test)]
mod testing;

pub use activity::{activity, activity_from_proto};
pub use customer::{audit, customer};
pub use enums::{activity_kind, lifecycle_stage};
pub use insights::insights;
pub use masked::{masked, masked_activity};
pub use profile::profile_from_proto;
pub use request::{actor, etag, search_query};
// Shared with the event payloads (crate::events), which carry the same wire values.
pub(crate) use activity::purchase_item;
pub(crate) use consent::consent_state;
pub(crate) use enums::{CHANNELS, KINDS, STAGES, code_of};

use crate::domain::Money;
use crate::settings::InputLimits;
use crm_platform::Violations;
use crm_platform::validate;
use crm_proto::common as cpb;

/// Longest text per field, in characters. Lists and amounts are bounded by the settings
/// (`[customers.limits]`); these follow from what the fields hold.
pub mod max_chars {
    pub const DISPLAY_NAME: usize = 200;
    pub const NAME_PART: usize = 100;
    pub const LABEL: usize = 64;
    pub const ADDRESS_LINE: usize = 200;
    pub const ADDRESS_LINES: usize = 5;
    pub const LOCALITY: usize = 100;
    pub const POSTAL_CODE: usize = 32;
    pub const RECIPIENT: usize = 200;
    pub const TIME_ZONE: usize = 64;
    pub const DATE_KIND: usize = 64;
    pub const CONSENT_SOURCE: usize = 128;
    pub const EXTERNAL_ID: usize = 128;
    pub const ATTRIBUTE_KEY: usize = 64;
    pub const ATTRIBUTE_TEXT: usize = 1_000;
    pub const CHANNEL: usize = 64;
    pub const REFERENCE: usize = 128;
    pub const ITEM_ID: usize = 128;
    /// Review, inquiry and complaint texts, search queries.
    pub const ACTIVITY_TEXT: usize = 10_000;
    pub const NAME_PREFIX: usize = 100;
    pub const ACTOR: usize = 128;
    pub const ETAG: usize = 64;
}

/// A repeated field within `max` entries; when it is longer only the list is reported and
/// its entries are not parsed (bounded work for any request).
pub(super) fn bounded<'a, T>(
    field: &str,
    items: &'a [T],
    max: usize,
    v: &mut Violations,
) -> &'a [T] {
    if validate::max_items(field, items.len(), max, v) {
        items
    } else {
        &[]
    }
}

/// Money as an activity carries it: an ISO 4217 currency and a positive amount of at most
/// `max_amount_major` whole units.
pub(super) fn money_from(
    m: &cpb::Money,
    field: &str,
    limits: &InputLimits,
    v: &mut Violations,
) -> Option<Money> {
    let currency = validate::currency(&format!("{field}.currency_code"), &m.currency_code, v)?;
    let amount = validate::amount_minor(
        &format!("{field}.amount_minor"),
        currency,
        m.amount_minor,
        limits.max_amount_major,
        v,
    )?;
    Some(Money {
        currency: m.currency_code.clone(),
        amount_minor: amount,
    })
}

pub fn money(m: &Money) -> cpb::Money {
    cpb::Money {
        currency_code: m.currency.clone(),
        amount_minor: m.amount_minor,
    }
}
