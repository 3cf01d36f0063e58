//! The CloudEvents attributes of the event backbone that are fixed by the contract: the
//! `type` of every payload case (one place, README "Events") and the constant envelope
//! values. Re-exported as `crm_proto::events::{types, SPEC_VERSION, ...}`.
use crate::crm::events::v1::event::Payload;

/// CloudEvents `specversion` of every event.
pub const SPEC_VERSION: &str = "1.0";
/// CloudEvents `datacontenttype`: the payload is a case of the `Event` message itself.
pub const DATA_CONTENT_TYPE: &str = "application/protobuf";
/// `Event.schema_version` of the payloads as this crate defines them.
pub const SCHEMA_VERSION: i32 = 1;

/// Every event `type`, `crm.{producer}.v1.{resource}.{verb}`; one per payload case.
pub mod types {
    pub const CUSTOMER_CREATED: &str = "crm.customers.v1.customer.created";
    pub const CUSTOMER_UPDATED: &str = "crm.customers.v1.customer.updated";
    pub const CUSTOMER_DELETED: &str = "crm.customers.v1.customer.deleted";
    pub const CUSTOMER_MERGED: &str = "crm.customers.v1.customer.merged";
    pub const CUSTOMER_ERASED: &str = "crm.customers.v1.customer.erased";
    pub const ACTIVITY_RECORDED: &str = "crm.customers.v1.activity.recorded";
    pub const REFUND_RECORDED: &str = "crm.customers.v1.refund.recorded";
    pub const CONSENT_CHANGED: &str = "crm.customers.v1.consent.changed";

    pub const POINTS_EARNED: &str = "crm.loyalty.v1.points.earned";
    pub const POINTS_REDEEMED: &str = "crm.loyalty.v1.points.redeemed";
    pub const POINTS_REVERSED: &str = "crm.loyalty.v1.points.reversed";
    pub const POINTS_EXPIRED: &str = "crm.loyalty.v1.points.expired";
    pub const TIER_CHANGED: &str = "crm.loyalty.v1.tier.changed";

    pub const TICKET_CREATED: &str = "crm.tickets.v1.ticket.created";
    pub const TICKET_STATUS_CHANGED: &str = "crm.tickets.v1.ticket.status_changed";
    pub const TICKET_SOLVED: &str = "crm.tickets.v1.ticket.solved";
    pub const TICKET_SLA_BREACHED: &str = "crm.tickets.v1.ticket.sla_breached";
    pub const SATISFACTION_SUBMITTED: &str = "crm.tickets.v1.satisfaction.submitted";

    pub const RECIPIENT_UNSUBSCRIBED: &str = "crm.campaigns.v1.recipient.unsubscribed";
    pub const SEGMENT_MEMBERSHIP_CHANGED: &str = "crm.campaigns.v1.segment.membership_changed";
    pub const MESSAGE_SENT: &str = "crm.campaigns.v1.message.sent";

    /// Published by every service that holds customer data, told apart by `source`.
    pub const ERASURE_COMPLETED: &str = "crm.events.v1.erasure.completed";

    /// All of the above, in the order of the `Event.payload` cases.
    pub const ALL: &[&str] = &[
        CUSTOMER_CREATED,
        CUSTOMER_UPDATED,
        CUSTOMER_DELETED,
        CUSTOMER_MERGED,
        CUSTOMER_ERASED,
        ACTIVITY_RECORDED,
        REFUND_RECORDED,
        CONSENT_CHANGED,
        POINTS_EARNED,
        POINTS_REDEEMED,
        POINTS_REVERSED,
        POINTS_EXPIRED,
        TIER_CHANGED,
        TICKET_CREATED,
        TICKET_STATUS_CHANGED,
        TICKET_SOLVED,
        TICKET_SLA_BREACHED,
        SATISFACTION_SUBMITTED,
        RECIPIENT_UNSUBSCRIBED,
        SEGMENT_MEMBERSHIP_CHANGED,
        MESSAGE_SENT,
        ERASURE_COMPLETED,
    ];
}

impl Payload {
    /// The CloudEvents `type` of an event carrying this payload.
    pub fn event_type(&self) -> &'static str {
        use types::*;
        match self {
            Self::CustomerCreated(_) => CUSTOMER_CREATED,
            Self::CustomerUpdated(_) => CUSTOMER_UPDATED,
            Self::CustomerDeleted(_) => CUSTOMER_DELETED,
            Self::CustomerMerged(_) => CUSTOMER_MERGED,
            Self::CustomerErased(_) => CUSTOMER_ERASED,
            Self::ActivityRecorded(_) => ACTIVITY_RECORDED,
            Self::RefundRecorded(_) => REFUND_RECORDED,
            Self::ConsentChanged(_) => CONSENT_CHANGED,
            Self::PointsEarned(_) => POINTS_EARNED,
            Self::PointsRedeemed(_) => POINTS_REDEEMED,
            Self::PointsReversed(_) => POINTS_REVERSED,
            Self::PointsExpired(_) => POINTS_EXPIRED,
            Self::TierChanged(_) => TIER_CHANGED,
            Self::TicketCreated(_) => TICKET_CREATED,
            Self::TicketStatusChanged(_) => TICKET_STATUS_CHANGED,
            Self::TicketSolved(_) => TICKET_SOLVED,
            Self::TicketSlaBreached(_) => TICKET_SLA_BREACHED,
            Self::SatisfactionSubmitted(_) => SATISFACTION_SUBMITTED,
            Self::RecipientUnsubscribed(_) => RECIPIENT_UNSUBSCRIBED,
            Self::SegmentMembershipChanged(_) => SEGMENT_MEMBERSHIP_CHANGED,
            Self::MessageSent(_) => MESSAGE_SENT,
            Self::ErasureCompleted(_) => ERASURE_COMPLETED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::events::v1::Event;
    use prost::Message;
    use prost_types::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};
    use std::collections::HashSet;

    fn events_files() -> Vec<FileDescriptorProto> {
        let set = FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).expect("descriptor set");
        set.file
            .into_iter()
            .filter(|f| f.package() == "crm.events.v1")
            .collect()
    }

    /// Every `Event.payload` case as (field number, payload message name), in field order.
    fn payload_cases(files: &[FileDescriptorProto]) -> Vec<(i32, String)> {
        let event = files
            .iter()
            .flat_map(|f| &f.message_type)
            .find(|m| m.name() == "Event")
            .expect("Event");
        let payload = event
            .oneof_decl
            .iter()
            .position(|o| o.name() == "payload")
            .expect("oneof payload");
        event
            .field
            .iter()
            .filter(|f| f.oneof_index == Some(payload as i32))
            .map(|f| {
                let message = f.type_name().rsplit('.').next().expect("type name");
                (f.number(), message.to_owned())
            })
            .collect()
    }

    /// The payload an `Event` holding only an empty message in field `number` decodes to.
    fn payload_of_case(number: i32) -> Payload {
        let key = (u64::try_from(number).expect("field number") << 3) | 2;
        let mut bytes = Vec::new();
        prost::encoding::encode_varint(key, &mut bytes);
        bytes.push(0); // an empty (all-default) payload message
        Event::decode(bytes.as_slice())
            .expect("decodes")
            .payload
            .expect("a payload case")
    }

    /// The file defining `message`, and the message with its index there (for comments).
    fn defining_file<'a>(
        files: &'a [FileDescriptorProto],
        message: &str,
    ) -> (&'a FileDescriptorProto, usize, &'a DescriptorProto) {
        files
            .iter()
            .find_map(|f| {
                let (i, m) = f
                    .message_type
                    .iter()
                    .enumerate()
                    .find(|(_, m)| m.name() == message)?;
                Some((f, i, m))
            })
            .expect("payload message defined in crm.events.v1")
    }

    #[test]
    fn every_payload_case_has_its_own_type() {
        let files = events_files();
        let cases = payload_cases(&files);
        assert_eq!(cases.len(), types::ALL.len(), "a type per payload case");
        let got: Vec<&str> = cases
            .iter()
            .map(|(n, _)| payload_of_case(*n).event_type())
            .collect();
        assert_eq!(got, types::ALL, "ALL lists the cases in field order");
        let unique: HashSet<&str> = got.iter().copied().collect();
        assert_eq!(unique.len(), got.len(), "types are unique: {got:?}");
    }

    #[test]
    fn each_type_names_its_producer_and_is_documented_on_its_message() {
        let files = events_files();
        for (number, message) in payload_cases(&files) {
            let t = payload_of_case(number).event_type();
            let (file, index, _) = defining_file(&files, &message);
            // customers_events.proto -> "customers"; event.proto (shared) -> "events".
            let file_name = file.name().rsplit('/').next().expect("file name");
            let producer = file_name.strip_suffix("_events.proto").unwrap_or("events");
            let parts: Vec<&str> = t.split('.').collect();
            assert_eq!(
                parts.len(),
                5,
                "{t}: crm.{{producer}}.v1.{{resource}}.{{verb}}"
            );
            assert_eq!(
                (parts[0], parts[1], parts[2]),
                ("crm", producer, "v1"),
                "{message} is in {file_name}, its type is {t}"
            );
            assert!(
                parts[3..]
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_')),
                "{t}: lower-case snake resource and verb"
            );
            // Path [4, index]: the index-th message of the file.
            let comment = file
                .source_code_info
                .as_ref()
                .and_then(|info| info.location.iter().find(|l| l.path == [4, index as i32]))
                .and_then(|l| l.leading_comments.clone())
                .unwrap_or_default();
            assert!(
                comment.contains(&format!("\"{t}\"")),
                "the comment of {message} names its type {t}: {comment:?}"
            );
        }
    }

    #[test]
    fn every_field_of_every_event_message_is_commented() {
        for file in events_files() {
            let info = file.source_code_info.as_ref().expect("source info");
            for (mi, message) in file.message_type.iter().enumerate() {
                for (fi, field) in message.field.iter().enumerate() {
                    let path = [4, mi as i32, 2, fi as i32];
                    let commented = info.location.iter().any(|l| {
                        l.path == path
                            && l.leading_comments
                                .as_deref()
                                .is_some_and(|c| !c.trim().is_empty())
                    });
                    assert!(
                        commented,
                        "{}.{} in {} has no comment",
                        message.name(),
                        field.name(),
                        file.name()
                    );
                }
            }
        }
    }

    #[test]
    fn the_readme_lists_every_type() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
            .expect("README.md");
        for t in types::ALL {
            assert!(readme.contains(&format!("`{t}`")), "README lists {t}");
        }
    }
}
