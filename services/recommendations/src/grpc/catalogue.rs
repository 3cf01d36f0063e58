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
use crm_platform::ids::RequestId;
use crm_platform::import_stream::{
    self, ImportRows, ImportTotals, RowResult, Tally, row_request_id,
};
use crm_platform::request_key;
use crm_proto::recommendations as pb;
use std::time::Duration;
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

pub async fn import_items(
    svc: &RecommendationService,
    request: Request<Streaming<pb::ImportItemsRequest>>,
) -> Reply<ImportItemsStream> {
    let rows = ItemRows { svc: svc.clone() };
    Ok(Response::new(import_stream::serve(
        rows,
        request.into_inner(),
    )))
}

/// ImportItems as [`ImportRows`]: every row is keyed by the stream's import_id (required on
/// the first message) and its position, over the row's payload without its import_id (a
/// retry that changed the row is refused as a reused key). A refused row claims no key: a
/// re-send of it (fixed or not) is tried again.
struct ItemRows {
    svc: RecommendationService,
}

impl ImportRows for ItemRows {
    type Message = pb::ImportItemsRequest;
    type Row = ImportRow;
    type Outcome = ImportOutcome;
    type Response = pb::ImportItemsResponse;

    fn batch_size(&self) -> usize {
        IMPORT_BATCH_SIZE
    }

    fn idle_timeout(&self) -> Duration {
        IMPORT_IDLE_TIMEOUT
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
        if msg.import_id.is_empty() && import.is_none() {
            if row == 0 {
                v.add("import_id", "is required on the first message");
            } else {
                v.add(
                    "import_id",
                    "the stream's first message set no valid import_id",
                );
            }
        }
        let id = convert::item_id("item_id", &msg.item_id, v);
        let fields = match &msg.item {
            Some(i) => Some(item_fields(i, &|_| true, v)),
            None => {
                v.add("item", "is required");
                None
            }
        };
        if !v.is_empty() {
            return None;
        }
        let request_id = row_request_id(import?, IMPORT_METHOD, row).to_string();
        let key = idempotency_key(
            msg,
            &request_id,
            IMPORT_METHOD,
            |r| r.import_id.clear(),
            &mut Violations::new(),
        )?;
        Some(ImportRow {
            key,
            id: id?,
            fields: fields?,
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
            ImportOutcome::Written { created: true, .. } => Tally::Created,
            ImportOutcome::Written { created: false, .. } => Tally::Updated,
            ImportOutcome::Failed(_) => Tally::Failed,
        }
    }

    fn respond(
        &self,
        rows: Vec<RowResult<ImportOutcome>>,
        totals: ImportTotals,
    ) -> pb::ImportItemsResponse {
        pb::ImportItemsResponse {
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
