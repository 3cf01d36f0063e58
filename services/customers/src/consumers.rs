//! What customers consumes: `crm.events.v1.erasure.completed` on the stream of every
//! reporting service (group `customers.erasure` on each), into the erasure status; and
//! campaigns' `crm.campaigns.v1.recipient.unsubscribed` (group `customers.unsubscribes`),
//! which revokes the channel's consent ([`Unsubscribes`]).
//!
//! A report that cannot apply (another service's name, a customer unknown here or never
//! erased, an answer to another erasure) is acknowledged and logged: retrying would not
//! change it. A report that breaks the contract (no customer name, erasure id or complete
//! time, a negative count) is an error: retried, then dead-lettered with the reason, so it is
//! kept for a replay once the producer or this parser is fixed.
mod unsubscribes;
pub use unsubscribes::{CAMPAIGNS, UNSUBSCRIBES, Unsubscribes};

use crate::domain::CustomerId;
use crate::domain::erasure::Completion;
use crate::service::{CustomersService, Recorded};
use crm_platform::events::{Envelope, Handler, payload_of};
use crm_platform::validate::required_timestamp;
use crm_platform::{Error, Violations};
use crm_proto::events::event::Payload;
use crm_proto::events::{self as ev, types};
use sea_orm::DatabaseTransaction;

/// The consumer name of every erasure consumer: group `customers.erasure`.
pub const ERASURE: &str = "erasure";

/// Records the ErasureCompleted reports published on `stream`'s stream.
pub struct ErasureCompletions {
    svc: CustomersService,
    /// The producing service whose stream this consumer reads.
    stream: String,
}

impl ErasureCompletions {
    pub fn new(svc: CustomersService, stream: impl Into<String>) -> Self {
        Self {
            svc,
            stream: stream.into(),
        }
    }
}

impl Handler for ErasureCompletions {
    fn event_types(&self) -> &[&str] {
        &[types::ERASURE_COMPLETED]
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        let Payload::ErasureCompleted(payload) = payload_of(event)? else {
            return Err(Error::internal(anyhow::anyhow!(
                "event {} of type {} has another payload",
                event.id,
                event.event_type
            )));
        };
        let report = completion(event, &payload)?;
        let customer = report.customer.name();
        match self
            .svc
            .record_completion(txn, &self.stream, &report)
            .await?
        {
            Recorded::Stored => {
                tracing::info!(%customer, service = %report.service, "erasure completion recorded");
            }
            Recorded::AlreadyReported => {
                tracing::info!(%customer, service = %report.service, event = %event.id, "erasure completion reported again; the first one stays");
            }
            Recorded::Ignored(why) => {
                tracing::warn!(%customer, service = %report.service, event = %event.id, %why, "erasure completion ignored");
            }
        }
        Ok(())
    }
}

/// The report in `payload`, or an error naming every field that breaks the contract.
fn completion(event: &Envelope, payload: &ev::ErasureCompleted) -> Result<Completion, Error> {
    let mut v = Violations::new();
    let customer = v.check("customer", CustomerId::parse_name(&payload.customer));
    let erasure_event_id = v.check(
        "erasure_event_id",
        uuid::Uuid::try_parse(&payload.erasure_event_id),
    );
    let complete_time = required_timestamp("complete_time", payload.complete_time.as_ref(), &mut v);
    if payload.scrubbed_records < 0 {
        v.add("scrubbed_records", "must be >= 0");
    }
    match (customer, erasure_event_id, complete_time) {
        (Some(customer), Some(erasure_event_id), Some(complete_time)) if v.is_empty() => {
            Ok(Completion {
                customer,
                service: payload.service.clone(),
                erasure_event_id,
                event_id: event.id,
                complete_time,
                scrubbed_records: payload.scrubbed_records,
            })
        }
        _ => {
            let fields: Vec<String> = v
                .iter()
                .map(|f| format!("{}: {}", f.field, f.description))
                .collect();
            Err(Error::internal(anyhow::anyhow!(
                "ErasureCompleted {} breaks the contract: {}",
                event.id,
                fields.join("; ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ev::ErasureCompleted {
        ev::ErasureCompleted {
            service: "loyalty".into(),
            customer: format!("customers/{}", uuid::Uuid::now_v7()),
            erasure_event_id: uuid::Uuid::now_v7().to_string(),
            complete_time: Some(prost_types::Timestamp {
                seconds: 1_796_000_000,
                nanos: 0,
            }),
            scrubbed_records: 0,
        }
    }

    fn envelope() -> Envelope {
        Envelope::new(
            "loyalty",
            types::ERASURE_COMPLETED,
            "customers/x",
            Vec::new(),
        )
    }

    #[test]
    fn a_report_keeps_its_fields_and_the_events_id() {
        let r = report();
        let e = envelope();
        let c = completion(&e, &r).expect("valid");
        assert_eq!(c.customer.name(), r.customer);
        assert_eq!(c.erasure_event_id.to_string(), r.erasure_event_id);
        assert_eq!(c.event_id, e.id);
        assert_eq!(c.complete_time.timestamp(), 1_796_000_000);
        assert_eq!((c.service.as_str(), c.scrubbed_records), ("loyalty", 0));
    }

    #[test]
    fn a_report_breaking_the_contract_is_an_error_naming_each_field() {
        let broken = ev::ErasureCompleted {
            customer: "tickets/1".into(),
            erasure_event_id: "not-a-uuid".into(),
            complete_time: None,
            scrubbed_records: -1,
            ..report()
        };
        let err = completion(&envelope(), &broken)
            .expect_err("broken")
            .to_string();
        for field in [
            "customer:",
            "erasure_event_id:",
            "complete_time:",
            "scrubbed_records:",
        ] {
            assert!(err.contains(field), "{field} in {err}");
        }
        let negative = ev::ErasureCompleted {
            scrubbed_records: -1,
            ..report()
        };
        assert!(completion(&envelope(), &negative).is_err());
    }
}
