//! The catalogue: create, get, list, update, delete and the bulk import of items.
//!
//! Every mutation runs under its request's idempotency key (a retry replays the first
//! answer); updates and deletes compare the revision in the same statement, so a concurrent
//! writer is ABORTED instead of lost. The import writes a batch per transaction and every row
//! in a savepoint of its own, keyed by the stream's import_id and the row's position, so a
//! re-sent stream replays the rows already written.
use super::{Cached, RecommendationService};
use crate::domain::{self, Item, ItemFields, ItemId};
use crate::error;
use crate::store::items as store;
use crm_platform::field_mask::UpdateMask;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::import::{self as bulk, Applied, Imported};
use crm_platform::mutation::Mutation;
use crm_platform::page_token::PageTokens;
use crm_platform::paging::Page;
use crm_platform::{Error, Violations, etag};
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The method name import rows are keyed under.
pub const IMPORT_METHOD: &str = "ImportItems";
/// Rows one import transaction writes (and the most rows read ahead of the client).
pub const IMPORT_BATCH_SIZE: usize = 500;
/// How long an import stream may stay silent before it is ended.
pub const IMPORT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Cross-field rules of a whole item (after an update merged it), reported under `item.`.
fn check(fields: &ItemFields) -> Result<(), Error> {
    let mut v = Violations::new();
    fields.check(&|_| true, &mut v);
    let mut out = Violations::new();
    out.extend_prefixed("item", v);
    out.into_result()
}

/// One import row as parsed by the adapter (rows it refused never get here): its key and
/// its item, created or replaced whole.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub key: IdempotencyKey,
    pub id: ItemId,
    pub fields: ItemFields,
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ImportOutcome {
    Written { item: ItemId, created: bool },
    Failed(Vec<String>),
}

impl RecommendationService {
    pub async fn create_item(
        &self,
        key: &IdempotencyKey,
        id: ItemId,
        fields: ItemFields,
    ) -> Result<Item, Error> {
        check(&fields)?;
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let item = Item::new(id, fields, domain::now());
        if !store::insert_new(&txn, &item).await? {
            return Err(error::item_exists(&item.id));
        }
        self.core().writes.commit(txn, key, touching(item)).await
    }

    pub async fn get_item(&self, id: &ItemId) -> Result<Item, Error> {
        store::find(self.db(), id)
            .await?
            .ok_or_else(|| error::item_not_found(id))
    }

    /// A page of items in id order, in `category` or below ("" all).
    pub async fn list_items(
        &self,
        category: &str,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Item>, Error> {
        let core = self.core();
        let query = PageTokens::fingerprint(&["ListItems", category]);
        let after: Option<String> = core.tokens.decode(page_token, &query)?;
        let limit = core.paging.limit(page_size);
        let mut items = store::list(self.db(), category, after.as_deref(), limit + 1).await?;
        let next_page_token = core
            .tokens
            .next_page(&mut items, limit, &query, |i: &Item| i.id.0.clone());
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Changes the fields `mask` names to those of `patch`; `sent_etag` (empty: none) must
    /// be the current one.
    pub async fn update_item(
        &self,
        key: &IdempotencyKey,
        id: ItemId,
        patch: ItemFields,
        mask: &UpdateMask,
        sent_etag: &str,
    ) -> Result<Item, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let current = store::find(&txn, &id)
            .await?
            .ok_or_else(|| error::item_not_found(&id))?;
        etag::check(sent_etag, current.revision)?;
        let mut fields = current.fields.clone();
        fields.apply(patch, mask.paths());
        check(&fields)?;
        let item = current.revised(fields, domain::now());
        if !store::update(&txn, &item).await? {
            return Err(Error::etag_mismatch());
        }
        self.core().writes.commit(txn, key, touching(item)).await
    }

    /// Deletes an item (its interactions stay); `sent_etag` (empty: none) must be current.
    pub async fn delete_item(
        &self,
        key: &IdempotencyKey,
        id: ItemId,
        sent_etag: &str,
    ) -> Result<(), Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let current = store::find(&txn, &id)
            .await?
            .ok_or_else(|| error::item_not_found(&id))?;
        etag::check(sent_etag, current.revision)?;
        if !store::delete(&txn, &id, current.revision, domain::now()).await? {
            return Err(Error::etag_mismatch());
        }
        let m = Mutation {
            value: (),
            resource: id.name(),
            touched: vec![Cached::Item(id)],
        };
        self.core().writes.commit(txn, key, m).await
    }

    /// Writes `rows` in one transaction and returns one outcome per row, in order. An error
    /// here (the database failed) means nothing of this batch was written.
    pub async fn import_batch(&self, rows: Vec<ImportRow>) -> Result<Vec<ImportOutcome>, Error> {
        let now = domain::now();
        let rows = rows
            .into_iter()
            .map(|r| (r.key, (r.id, r.fields)))
            .collect();
        // The stored result is the outcome itself (what earlier versions stored, too).
        let outcomes = bulk::write_batch(self.db(), rows, move |txn, (id, fields)| {
            Box::pin(async move {
                let outcome = upsert(txn, id, fields, now).await?;
                Ok(match &outcome {
                    ImportOutcome::Written { item, .. } => Applied::Written {
                        resource: item.name(),
                        stored: outcome,
                    },
                    ImportOutcome::Failed(errors) => Applied::Refused(errors.clone()),
                })
            })
        })
        .await?;
        let outcomes: Vec<ImportOutcome> = outcomes
            .into_iter()
            .map(|o| match o {
                Imported::Written { stored, .. } => stored,
                Imported::Failed(errors) => ImportOutcome::Failed(errors),
            })
            .collect();
        let touched: Vec<Cached> = outcomes
            .iter()
            .filter_map(|o| match o {
                ImportOutcome::Written { item, .. } => Some(Cached::Item(item.clone())),
                ImportOutcome::Failed(_) => None,
            })
            .collect();
        self.core().writes.invalidate(&touched).await;
        Ok(outcomes)
    }
}

/// A write of `item` answered with it, dropping its cached row.
fn touching(item: Item) -> Mutation<Item, Cached> {
    Mutation {
        resource: item.id.name(),
        touched: vec![Cached::Item(item.id.clone())],
        value: item,
    }
}

/// Creates or replaces one item (in its row's savepoint: a refusal rolls back only itself).
async fn upsert(
    txn: &DatabaseTransaction,
    id: ItemId,
    fields: ItemFields,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ImportOutcome, Error> {
    check(&fields)?;
    match store::find(txn, &id).await? {
        Some(current) => {
            let item = current.revised(fields, now);
            if !store::update(txn, &item).await? {
                return Err(Error::etag_mismatch());
            }
            Ok(ImportOutcome::Written {
                item: id,
                created: false,
            })
        }
        None => {
            let item = Item::new(id, fields, now);
            if !store::insert_new(txn, &item).await? {
                // Created by a concurrent writer since the read: this row loses.
                return Err(error::item_exists(&item.id));
            }
            Ok(ImportOutcome::Written {
                item: item.id,
                created: true,
            })
        }
    }
}
