//! The streaming RPCs: each runs in its own task and talks to the client through a bounded
//! channel, so a slow reader slows the producer down instead of growing a buffer.
use super::convert;
use crate::domain::CustomerId;
use crate::error::DOMAIN;
use crate::service::{
    CustomersService, ExportChunk, ExportCursor, IMPORT_METHOD, ImportAction, ImportOutcome,
    ImportRow,
};
use crm_platform::Violations;
use crm_platform::grpc::to_status;
use crm_platform::idempotency::IdempotencyKey;
use crm_platform::ids::RequestId;
use crm_platform::import::violation_lines;
use crm_platform::import_stream::{
    self, ImportRows, ImportTotals, RowResult, Tally, client_gone as gone, row_request_id,
    spawn_stream,
};
use crm_platform::validate::to_timestamp;
use crm_proto::customers as pb;
use prost::Message as _;
use std::time::Duration;
use tonic::{Status, Streaming};

pub use crm_platform::import_stream::ReplyStream;

pub fn export(svc: CustomersService, id: CustomerId) -> ReplyStream<pb::ExportCustomerResponse> {
    spawn_stream(move |tx| async move {
        let head = svc
            .export_head(id)
            .await
            .map_err(|e| to_status(e, DOMAIN))?;
        let owner = head.customer.id;
        tx.send(Ok(pb::ExportCustomerResponse {
            customer: Some(convert::customer(&head.customer)),
            export_time: Some(to_timestamp(head.export_time)),
            erasure_status: head.erasure.as_ref().map(super::gdpr::erasure_status_of),
            ..Default::default()
        }))
        .await
        .map_err(gone)?;
        let mut at = Some(ExportCursor::Activities(None));
        while let Some(cursor) = at {
            let (chunk, next) = svc
                .export_chunk(owner, cursor)
                .await
                .map_err(|e| to_status(e, DOMAIN))?;
            at = next;
            let msg = match chunk {
                ExportChunk::Activities(a) if !a.is_empty() => pb::ExportCustomerResponse {
                    activities: a.iter().map(convert::activity).collect(),
                    ..Default::default()
                },
                ExportChunk::Audit(a) if !a.is_empty() => pb::ExportCustomerResponse {
                    audit_entries: a.iter().map(convert::audit).collect(),
                    ..Default::default()
                },
                ExportChunk::Merged(m) if !m.is_empty() => pb::ExportCustomerResponse {
                    merged_customers: m.iter().map(|x| x.name()).collect(),
                    ..Default::default()
                },
                _ => continue,
            };
            tx.send(Ok(msg)).await.map_err(gone)?;
        }
        Ok(())
    })
}

pub fn import(
    svc: CustomersService,
    inbound: Streaming<pb::ImportCustomersRequest>,
) -> ReplyStream<pb::ImportCustomersResponse> {
    import_stream::serve(CustomerRows { svc }, inbound)
}

/// ImportCustomers as [`ImportRows`]: a row is keyed by its request_id, else by the stream's
/// import_id and its position; a keyed row that cannot be written still claims its key (a
/// re-send after a success replays that success).
struct CustomerRows {
    svc: CustomersService,
}

impl ImportRows for CustomerRows {
    type Message = pb::ImportCustomersRequest;
    type Row = ImportRow;
    type Outcome = ImportOutcome;
    type Response = pb::ImportCustomersResponse;

    fn batch_size(&self) -> usize {
        self.svc.import_batch_size()
    }

    fn idle_timeout(&self) -> Duration {
        self.svc.import_idle_timeout()
    }

    fn import_id(msg: &Self::Message) -> &str {
        &msg.import_id
    }

    fn parse(
        &self,
        msg: &Self::Message,
        row: u32,
        import: Option<RequestId>,
        v: &mut Violations,
    ) -> Option<ImportRow> {
        let request_id = if !msg.request_id.is_empty() {
            v.check("request_id", RequestId::parse(&msg.request_id))
        } else if let Some(import) = import {
            Some(row_request_id(import, IMPORT_METHOD, row))
        } else {
            v.add(
                "request_id",
                "is required unless the first message sets import_id",
            );
            None
        };
        let profile = match &msg.customer {
            Some(c) => {
                let mut pv = Violations::new();
                let p = convert::profile_from_proto(c, self.svc.limits(), &mut pv);
                v.extend_prefixed("customer", pv);
                Some(p)
            }
            None => {
                v.add("customer", "is required");
                None
            }
        };
        let (id, profile) = (request_id?, profile?);
        let mut payload = msg.clone();
        payload.request_id.clear();
        payload.import_id.clear();
        Some(ImportRow {
            key: IdempotencyKey::new(id, IMPORT_METHOD, &payload.encode_to_vec()),
            profile: if v.is_empty() {
                Ok(profile)
            } else {
                Err(violation_lines(v))
            },
        })
    }

    fn key(row: &ImportRow) -> RequestId {
        row.key.request_id
    }

    async fn write(&self, rows: Vec<ImportRow>) -> Result<Vec<ImportOutcome>, Status> {
        self.svc
            .import_batch(rows)
            .await
            .map_err(|e| to_status(e, DOMAIN))
    }

    fn tally(outcome: &ImportOutcome) -> Tally {
        match outcome {
            ImportOutcome::Written {
                action: ImportAction::Created,
                ..
            } => Tally::Created,
            ImportOutcome::Written {
                action: ImportAction::Updated,
                ..
            } => Tally::Updated,
            ImportOutcome::Failed(_) => Tally::Failed,
        }
    }

    fn respond(
        &self,
        rows: Vec<RowResult<ImportOutcome>>,
        totals: ImportTotals,
    ) -> pb::ImportCustomersResponse {
        pb::ImportCustomersResponse {
            results: rows
                .into_iter()
                .map(|(row, o)| row_result(row, o.unwrap_or_else(ImportOutcome::Failed)))
                .collect(),
            created_count: totals.created,
            updated_count: totals.updated,
            failed_count: totals.failed,
        }
    }
}

fn row_result(row: u32, outcome: ImportOutcome) -> pb::ImportRowResult {
    let row = i32::try_from(row).unwrap_or(i32::MAX);
    match outcome {
        ImportOutcome::Written {
            action,
            customer,
            replayed,
        } => pb::ImportRowResult {
            row,
            action: match action {
                ImportAction::Created => pb::ImportAction::Created,
                ImportAction::Updated => pb::ImportAction::Updated,
            } as i32,
            customer: customer.name(),
            errors: Vec::new(),
            replayed,
        },
        ImportOutcome::Failed(errors) => pb::ImportRowResult {
            row,
            action: pb::ImportAction::Failed as i32,
            customer: String::new(),
            errors,
            replayed: false,
        },
    }
}
