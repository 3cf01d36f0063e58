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
use crm_platform::validate::to_timestamp;
use crm_proto::customers as pb;
use futures::FutureExt as _;
use prost::Message as _;
use std::collections::HashSet;
use std::pin::Pin;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

pub type ReplyStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Messages buffered towards the client before the producer waits.
const CHANNEL_DEPTH: usize = 2;

/// Runs `produce` in a task feeding a bounded channel; its error ends the stream.
fn spawn_stream<T, F>(produce: impl FnOnce(mpsc::Sender<Result<T, Status>>) -> F) -> ReplyStream<T>
where
    T: Send + 'static,
    F: Future<Output = Result<(), Status>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let done = tx.clone();
    let work = produce(tx);
    tokio::spawn(async move {
        if let Err(status) = work.await {
            let _ = done.send(Err(status)).await;
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// The client went away: stop producing.
fn gone<E>(_: E) -> Status {
    Status::cancelled("the client closed the stream")
}

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
    spawn_stream(move |tx| Importer::new(svc, inbound).run(tx))
}

/// One import stream: reads a batch, commits it, sends its results, then reads on.
struct Importer {
    svc: CustomersService,
    inbound: Streaming<pb::ImportCustomersRequest>,
    /// The stream's import_id (from its first message).
    import_id: Option<RequestId>,
    next_row: u32,
    /// A message read but left for the next batch (its key repeats one in the batch).
    held: Option<pb::ImportCustomersRequest>,
    totals: pb::ImportCustomersResponse,
}

/// A row as read: keyed and ready for the service, or refused before it.
enum Parsed {
    Keyed(Box<ImportRow>),
    Refused(Vec<String>),
}

impl Importer {
    fn new(svc: CustomersService, inbound: Streaming<pb::ImportCustomersRequest>) -> Self {
        Self {
            svc,
            inbound,
            import_id: None,
            next_row: 0,
            held: None,
            totals: pb::ImportCustomersResponse::default(),
        }
    }

    async fn run(
        mut self,
        tx: mpsc::Sender<Result<pb::ImportCustomersResponse, Status>>,
    ) -> Result<(), Status> {
        while let Some(batch) = self.read_batch().await? {
            let first_row = self.next_row - batch.len() as u32;
            let results = self.write(batch, first_row).await?;
            let mut msg = pb::ImportCustomersResponse {
                results,
                ..self.totals.clone()
            };
            for r in &msg.results {
                match pb::ImportAction::try_from(r.action) {
                    Ok(pb::ImportAction::Created) => self.totals.created_count += 1,
                    Ok(pb::ImportAction::Updated) => self.totals.updated_count += 1,
                    _ => self.totals.failed_count += 1,
                }
            }
            msg.created_count = self.totals.created_count;
            msg.updated_count = self.totals.updated_count;
            msg.failed_count = self.totals.failed_count;
            // Waits while the client is not reading: the next batch is read only after this.
            tx.send(Ok(msg)).await.map_err(gone)?;
        }
        Ok(())
    }

    /// The next message, waiting at most the idle timeout.
    async fn next_message(&mut self) -> Result<Option<pb::ImportCustomersRequest>, Status> {
        if let Some(m) = self.held.take() {
            return Ok(Some(m));
        }
        let idle = self.svc.import_idle_timeout();
        tokio::time::timeout(idle, self.inbound.message())
            .await
            .map_err(|_| {
                Status::deadline_exceeded(format!(
                    "no import row for {} ms; the stream was ended",
                    idle.as_millis()
                ))
            })?
    }

    /// Up to a batch of rows: the first waits, the rest are those already received.
    async fn read_batch(&mut self) -> Result<Option<Vec<Parsed>>, Status> {
        let Some(first) = self.next_message().await? else {
            return Ok(None);
        };
        let mut batch = Vec::new();
        let mut keys = HashSet::new();
        let mut msg = first;
        loop {
            let parsed = self.parse(&msg);
            if let Parsed::Keyed(r) = &parsed
                && !keys.insert(r.key.request_id)
            {
                // One key twice in a batch: the second one goes into the next batch, where it
                // replays the first one's result (or is refused as a reused key).
                self.held = Some(msg);
                break;
            }
            self.next_row = self
                .next_row
                .checked_add(1)
                .ok_or_else(|| Status::out_of_range("too many rows in one import"))?;
            batch.push(parsed);
            if batch.len() >= self.svc.import_batch_size() {
                break;
            }
            match self.inbound.message().now_or_never() {
                Some(Ok(Some(m))) => msg = m,
                Some(Ok(None)) | None => break,
                Some(Err(status)) => return Err(status),
            }
        }
        Ok(Some(batch))
    }

    fn parse(&mut self, msg: &pb::ImportCustomersRequest) -> Parsed {
        let row = self.next_row;
        let mut v = Violations::new();
        if !msg.import_id.is_empty() {
            match v.check("import_id", RequestId::parse(&msg.import_id)) {
                Some(id) if row == 0 => self.import_id = Some(id),
                Some(id) if Some(id) != self.import_id => v.add(
                    "import_id",
                    "must be the import_id of the stream's first message",
                ),
                _ => {}
            }
        }
        let request_id = if !msg.request_id.is_empty() {
            v.check("request_id", RequestId::parse(&msg.request_id))
        } else if let Some(import) = self.import_id {
            Some(row_request_id(import, row))
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
        let errors: Vec<String> = v
            .iter()
            .map(|x| format!("{}: {}", x.field, x.description))
            .collect();
        match (request_id, profile) {
            (Some(id), Some(profile)) => {
                let mut payload = msg.clone();
                payload.request_id.clear();
                payload.import_id.clear();
                Parsed::Keyed(Box::new(ImportRow {
                    key: IdempotencyKey::new(id, IMPORT_METHOD, &payload.encode_to_vec()),
                    profile: if errors.is_empty() {
                        Ok(profile)
                    } else {
                        Err(errors)
                    },
                }))
            }
            _ => Parsed::Refused(errors),
        }
    }

    async fn write(
        &self,
        batch: Vec<Parsed>,
        first_row: u32,
    ) -> Result<Vec<pb::ImportRowResult>, Status> {
        let mut keyed = Vec::new();
        let mut slots = Vec::with_capacity(batch.len());
        for p in batch {
            match p {
                Parsed::Keyed(r) => {
                    keyed.push(*r);
                    slots.push(None);
                }
                Parsed::Refused(errors) => slots.push(Some(ImportOutcome::Failed(errors))),
            }
        }
        let mut written = self
            .svc
            .import_batch(keyed)
            .await
            .map_err(|e| to_status(e, DOMAIN))?
            .into_iter();
        Ok(slots
            .into_iter()
            .enumerate()
            .map(|(i, slot)| {
                let outcome = slot
                    .or_else(|| written.next())
                    .unwrap_or_else(|| ImportOutcome::Failed(vec!["not processed".into()]));
                row_result(first_row + i as u32, outcome)
            })
            .collect())
    }
}

/// A row's key when it has no request_id of its own: derived from the stream's import_id
/// and the row's position (a hash, so keys of different imports never meet).
fn row_request_id(import: RequestId, row: u32) -> RequestId {
    let digest = IdempotencyKey::new(import, IMPORT_METHOD, format!("{import}/{row}").as_bytes());
    let hex = digest.fingerprint.get(..32).unwrap_or_default();
    RequestId(uuid::Uuid::from_u128(
        u128::from_str_radix(hex, 16).unwrap_or_default(),
    ))
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
