//! Proto <-> domain conversions (no store types: rows convert next to their entities).
use crate::domain::{Limits, Note, NoteFields, NoteId};
use crm_platform::Violations;
use crm_platform::etag;
use crm_platform::field_mask::UpdateMask;
use crm_platform::validate::to_timestamp;
use crm_proto::template as pb;

pub fn note(n: &Note) -> pb::Note {
    pb::Note {
        name: n.id.name(),
        title: n.fields.title.clone(),
        body: n.fields.body.clone(),
        create_time: Some(to_timestamp(n.create_time)),
        update_time: Some(to_timestamp(n.update_time)),
        etag: etag::of_revision(n.revision),
    }
}

/// The settable fields of `n` (those `mask` names, when given), problems under `note.`.
pub fn note_fields(
    n: &pb::Note,
    limits: &Limits,
    mask: Option<&UpdateMask>,
    v: &mut Violations,
) -> NoteFields {
    let mut fv = Violations::new();
    let fields = NoteFields::parse(&n.title, &n.body, limits, mask, &mut fv);
    v.extend_prefixed("note", fv);
    fields
}

/// A note's resource name from request field `field`.
pub fn note_id(field: &str, name: &str, v: &mut Violations) -> Option<NoteId> {
    v.check(field, NoteId::parse_name(name))
}

/// An etag the caller sent back (empty: no precondition). One that is not current, ours or
/// not, is ABORTED later; here it only has to be a short line of text.
pub fn sent_etag(field: &str, sent: &str, v: &mut Violations) -> String {
    crm_platform::validate::text(field, sent, 64, false, v)
}
