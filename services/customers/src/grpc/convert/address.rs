//! Postal addresses, parsed from the wire and back.
use super::{bounded, max_chars};
use crate::domain::{PostalAddress, contact};
use crm_platform::Violations;
use crm_platform::validate::text;
use crm_proto::common as cpb;

pub(super) fn address_from_proto(
    a: &cpb::PostalAddress,
    f: &str,
    v: &mut Violations,
) -> PostalAddress {
    use max_chars as max;
    v.check(
        format!("{f}.region_code"),
        contact::region_code(&a.region_code),
    );
    let lines = bounded(
        &format!("{f}.address_lines"),
        &a.address_lines,
        max::ADDRESS_LINES,
        v,
    );
    PostalAddress {
        label: text(&format!("{f}.label"), &a.label, max::LABEL, false, v),
        address_lines: lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let field = format!("{f}.address_lines[{i}]");
                text(&field, l, max::ADDRESS_LINE, false, v)
            })
            .collect(),
        locality: text(
            &format!("{f}.locality"),
            &a.locality,
            max::LOCALITY,
            false,
            v,
        ),
        administrative_area: text(
            &format!("{f}.administrative_area"),
            &a.administrative_area,
            max::LOCALITY,
            false,
            v,
        ),
        postal_code: text(
            &format!("{f}.postal_code"),
            &a.postal_code,
            max::POSTAL_CODE,
            false,
            v,
        ),
        region_code: a.region_code.clone(),
        recipient: text(
            &format!("{f}.recipient"),
            &a.recipient,
            max::RECIPIENT,
            false,
            v,
        ),
    }
}

pub(super) fn address(a: &PostalAddress) -> cpb::PostalAddress {
    cpb::PostalAddress {
        label: a.label.clone(),
        address_lines: a.address_lines.clone(),
        locality: a.locality.clone(),
        administrative_area: a.administrative_area.clone(),
        postal_code: a.postal_code.clone(),
        region_code: a.region_code.clone(),
        recipient: a.recipient.clone(),
    }
}
