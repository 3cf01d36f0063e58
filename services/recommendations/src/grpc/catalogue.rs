//! Items, ImportItems and RecordInteractions.
use super::{ImportItemsStream, Reply, convert, parsed};
use crate::domain::item::UPDATABLE_FIELDS;
use crate::domain::{self, interaction};
use crate::error::DOMAIN;
use crate::service::RecommendationService;
use crate::service::catalogue::{
    IMPORT_BATCH_SIZE, IMPORT_IDLE_TIMEOUT, IMPORT_METHOD, ImportOutcome, ImportRow,
};
use crm_platform::Violations;
use crm_platform::field_mask::UpdateMask;
use crm_platform::grpc::{IntoStatus, idempotency_key, page_size, to_status};
use crm_platform::idempotency::IdempotencyKey;
use crm_platform::ids::RequestId;
use crm_platform::request_key;
use crm_proto::recommendations as pb;
use futures::FutureExt as _;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

/// The fields of `item`, problems prefixed `item.`: only those of fields `read` names (an
/// update reads the masked fields of a partial item).
fn item_fields(
    item: &pb::Item,
    read: &dyn Fn(&str) -> bool,
    v: &mut Violations,
) -> domain::ItemFields {
    let mut iv = Violations::new();
    let fields = convert::item_fields(item, &mut iv);
    let mut kept = Violations::new();
    for x in iv.iter() {
        let top = x.field.split(['.', '[']).next().unwrap_or_default();
        if read(top) {
            kept.add(x.field.clone(), x.description.clone());
        }
    }
    v.extend_prefixed("item", kept);
    fields
}

pub async fn create_item(
    svc: &RecommendationService,
    request: Request<pb::CreateItemRequest>,
) -> Reply<pb::Item> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "CreateItem", &mut v);
    let id = convert::item_id("item_id", &req.item_id, &mut v);
    let fields = match &req.item {
        Some(i) => Some(item_fields(i, &|_| true, &mut v)),
        None => {
            v.add("item", "is required");
            None
        }
    };
    let ((key, id), fields) = parsed(v, key.zip(id).zip(fields))?;
    let item = svc
        .create_item(&key, id, fields)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(convert::item(&item)))
}

pub async fn get_item(
    svc: &RecommendationService,
    request: Request<pb::GetItemRequest>,
) -> Reply<pb::Item> {
    let mut v = Violations::new();
    let id = convert::item_name("name", &request.get_ref().name, &mut v);
    let id = parsed(v, id)?;
    let item = svc.get_item(&id).await.into_status(DOMAIN)?;
    Ok(Response::new(convert::item(&item)))
}

pub async fn list_items(
    svc: &RecommendationService,
    request: Request<pb::ListItemsRequest>,
) -> Reply<pb::ListItemsResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let size = page_size(req.page_size, &mut v);
    let category = convert::category("category", &req.category, &mut v);
    let token = crm_platform::validate::text("page_token", &req.page_token, 1024, false, &mut v);
    parsed(v, Some(()))?;
    let page = svc
        .list_items(&category, size, &token)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::ListItemsResponse {
        items: page.items.iter().map(convert::item).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn update_item(
    svc: &RecommendationService,
    request: Request<pb::UpdateItemRequest>,
) -> Reply<pb::Item> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "UpdateItem", &mut v);
    let mask = UpdateMask::of_request(req.update_mask.as_ref(), UPDATABLE_FIELDS, &mut v);
    let Some(item) = &req.item else {
        v.add("item", "is required");
        return parsed(v, None);
    };
    let id = convert::item_name("item.name", &item.name, &mut v);
    let etag = convert::sent_etag("item.etag", &item.etag, &mut v);
    // Only masked fields are read (none while the mask itself is refused).
    let patch = item_fields(
        item,
        &|f| mask.as_ref().is_some_and(|m| m.contains(f)),
        &mut v,
    );
    let ((key, id), mask) = parsed(v, key.zip(id).zip(mask))?;
    let item = svc
        .update_item(&key, id, patch, &mask, &etag)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(convert::item(&item)))
}

pub async fn delete_item(
    svc: &RecommendationService,
    request: Request<pb::DeleteItemRequest>,
) -> Reply<()> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "DeleteItem", &mut v);
    let id = convert::item_name("name", &req.name, &mut v);
    let etag = convert::sent_etag("etag", &req.etag, &mut v);
    let (key, id) = parsed(v, key.zip(id))?;
    svc.delete_item(&key, id, &etag).await.into_status(DOMAIN)?;
    Ok(Response::new(()))
}

pub async fn record_interactions(
    svc: &RecommendationService,
    request: Request<pb::RecordInteractionsRequest>,
) -> Reply<pb::RecordInteractionsResponse> {
    let req = request.into_inner();
    let mut v = Violations::new();
    let key = request_key!(req, "RecordInteractions", &mut v);
    let n = req.interactions.len();
    let mut new = Vec::with_capacity(n.min(interaction::MAX_PER_CALL));
    if n == 0 {
        v.add("interactions", "is required");
    } else if n > interaction::MAX_PER_CALL {
        v.add(
            "interactions",
            format!("must have at most {} entries", interaction::MAX_PER_CALL),
        );
    } else {
        let now = domain::now();
        for (i, x) in req.interactions.iter().enumerate() {
            if let Some(x) = convert::interaction(&format!("interactions[{i}]"), x, now, &mut v) {
                new.push(x);
            }
        }
    }
    let key = parsed(v, key)?;
    let r = svc
        .record_interactions(&key, new)
        .await
        .into_status(DOMAIN)?;
    Ok(Response::new(pb::RecordInteractionsResponse {
        recorded_count: i32::try_from(r.recorded).unwrap_or(i32::MAX),
        duplicate_count: i32::try_from(r.duplicates).unwrap_or(i32::MAX),
    }))
}

/// Responses buffered towards the client before the importer waits (backpressure: the next
/// batch is read only once the client takes this one).
const CHANNEL_DEPTH: usize = 2;

pub async fn import_items(
    svc: &RecommendationService,
    request: Request<Streaming<pb::ImportItemsRequest>>,
) -> Reply<ImportItemsStream> {
    let inbound = request.into_inner();
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let importer = Importer::new(svc.clone(), inbound);
    tokio::spawn(async move {
        let done = tx.clone();
        if let Err(status) = importer.run(tx).await {
            let _ = done.send(Err(status)).await;
        }
    });
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    Ok(Response::new(Box::pin(stream)))
}

/// One import stream: reads a batch, commits it, sends its results, then reads on.
struct Importer {
    svc: RecommendationService,
    inbound: Streaming<pb::ImportItemsRequest>,
    /// The stream's import_id (from its first message).
    import_id: Option<RequestId>,
    next_row: u32,
    totals: pb::ImportItemsResponse,
}

/// A row as read: keyed and ready for the service, or refused before it.
enum Parsed {
    Keyed(Box<ImportRow>),
    Refused(Vec<String>),
}

impl Importer {
    fn new(svc: RecommendationService, inbound: Streaming<pb::ImportItemsRequest>) -> Self {
        Self {
            svc,
            inbound,
            import_id: None,
            next_row: 0,
            totals: pb::ImportItemsResponse::default(),
        }
    }

    async fn run(
        mut self,
        tx: mpsc::Sender<Result<pb::ImportItemsResponse, Status>>,
    ) -> Result<(), Status> {
        while let Some(batch) = self.read_batch().await? {
            let first_row = self.next_row - batch.len() as u32;
            let results = self.write(batch, first_row).await?;
            for r in &results {
                let t = &mut self.totals;
                match (r.item.is_empty(), r.created) {
                    (true, _) => t.failed_count = t.failed_count.saturating_add(1),
                    (false, true) => t.created_count = t.created_count.saturating_add(1),
                    (false, false) => t.updated_count = t.updated_count.saturating_add(1),
                }
            }
            let msg = pb::ImportItemsResponse {
                results,
                ..self.totals.clone()
            };
            // Waits while the client is not reading: the next batch is read only after this.
            tx.send(Ok(msg))
                .await
                .map_err(|_| Status::cancelled("the client closed the stream"))?;
        }
        Ok(())
    }

    /// The next message, waiting at most the idle timeout.
    async fn next_message(&mut self) -> Result<Option<pb::ImportItemsRequest>, Status> {
        tokio::time::timeout(IMPORT_IDLE_TIMEOUT, self.inbound.message())
            .await
            .map_err(|_| {
                Status::deadline_exceeded(format!(
                    "no import row for {} s; the stream was ended",
                    IMPORT_IDLE_TIMEOUT.as_secs()
                ))
            })?
    }

    /// Up to a batch of rows: the first waits, the rest are those already received.
    async fn read_batch(&mut self) -> Result<Option<Vec<Parsed>>, Status> {
        let Some(mut msg) = self.next_message().await? else {
            return Ok(None);
        };
        let mut batch = Vec::new();
        loop {
            let parsed = self.parse(&msg);
            self.next_row = self
                .next_row
                .checked_add(1)
                .ok_or_else(|| Status::out_of_range("too many rows in one import"))?;
            batch.push(parsed);
            if batch.len() >= IMPORT_BATCH_SIZE {
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

    fn parse(&mut self, msg: &pb::ImportItemsRequest) -> Parsed {
        let row = self.next_row;
        let mut v = Violations::new();
        if msg.import_id.is_empty() {
            if row == 0 {
                v.add("import_id", "is required on the first message");
            } else if self.import_id.is_none() {
                v.add(
                    "import_id",
                    "the stream's first message set no valid import_id",
                );
            }
        } else {
            match v.check("import_id", RequestId::parse(&msg.import_id)) {
                Some(id) if row == 0 => self.import_id = Some(id),
                Some(id) if Some(id) != self.import_id => v.add(
                    "import_id",
                    "must be the import_id of the stream's first message",
                ),
                _ => {}
            }
        }
        let id = convert::item_id("item_id", &msg.item_id, &mut v);
        let fields = match &msg.item {
            Some(i) => Some(item_fields(i, &|_| true, &mut v)),
            None => {
                v.add("item", "is required");
                None
            }
        };
        let errors: Vec<String> = v
            .iter()
            .map(|x| format!("{}: {}", x.field, x.description))
            .collect();
        // A refused row claims no key: a re-send of it (fixed or not) is tried again.
        let key = self.import_id.and_then(|import| row_key(msg, import, row));
        match (key, id, fields) {
            (Some(key), Some(id), Some(fields)) if errors.is_empty() => {
                Parsed::Keyed(Box::new(ImportRow { key, id, fields }))
            }
            _ => Parsed::Refused(errors),
        }
    }

    async fn write(
        &self,
        batch: Vec<Parsed>,
        first_row: u32,
    ) -> Result<Vec<pb::ImportItemResult>, Status> {
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
        let mut written = if keyed.is_empty() {
            Vec::new().into_iter()
        } else {
            self.svc
                .import_batch(keyed)
                .await
                .map_err(|e| to_status(e, DOMAIN))?
                .into_iter()
        };
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

/// A row's key: derived from the stream's import_id and the row's position (a hash, so
/// rows of different imports never meet), over the row's payload without its import_id (a
/// retry that changed the row is refused as a reused key).
fn row_key(msg: &pb::ImportItemsRequest, import: RequestId, row: u32) -> Option<IdempotencyKey> {
    let seed = IdempotencyKey::new(import, IMPORT_METHOD, format!("{import}/{row}").as_bytes());
    let hex = seed.fingerprint.get(..32).unwrap_or_default();
    let id = uuid::Uuid::from_u128(u128::from_str_radix(hex, 16).unwrap_or_default());
    idempotency_key(
        msg,
        &id.to_string(),
        IMPORT_METHOD,
        |r| r.import_id.clear(),
        &mut Violations::new(),
    )
}

fn row_result(row: u32, outcome: ImportOutcome) -> pb::ImportItemResult {
    let row = i32::try_from(row).unwrap_or(i32::MAX);
    match outcome {
        ImportOutcome::Written { item, created } => pb::ImportItemResult {
            row,
            item: item.name(),
            created,
            errors: Vec::new(),
        },
        ImportOutcome::Failed(errors) => pb::ImportItemResult {
            row,
            item: String::new(),
            created: false,
            errors,
        },
    }
}
