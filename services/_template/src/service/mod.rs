//! The use cases. No tonic or proto types here: the gRPC adapter parses requests into domain
//! values, calls these methods and converts the results back.
//!
//! Every mutation is one transaction opened under its request's idempotency key
//! ([`Mutations::begin`]: a retry gets the first answer) and committed with its answer
//! ([`Mutations::commit`]), which then drops the touched notes from the cache. Split this file
//! by aggregate (`service/notes.rs`, ...) when it grows past a few hundred lines.
use crate::domain::{self, Limits, Note, NoteFields, NoteId};
use crate::error;
use crate::settings::TemplateSettings;
use crate::store;
use crm_platform::app::Core;
use crm_platform::cache::{Cache, Cacheable};
use crm_platform::field_mask::UpdateMask;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::mutation::Touched;
use crm_platform::page_token::PageTokens;
pub use crm_platform::paging::Page;
use crm_platform::{Error, etag};
use sea_orm::DatabaseTransaction;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct TemplateService {
    core: Core,
    limits: Arc<Limits>,
}

/// A mutation of notes: its answer, its resource and the notes to drop from the cache.
type Mutation<T> = crm_platform::mutation::Mutation<T, NoteId>;

impl Cacheable for Note {
    const KIND: &'static str = "note";
}

impl Touched for NoteId {
    async fn invalidate(&self, cache: &Cache) {
        cache.invalidate::<Note>(&self.0.to_string()).await;
    }
}

impl TemplateService {
    pub fn new(core: Core, cfg: &TemplateSettings) -> Self {
        Self {
            core,
            limits: Arc::new(cfg.limits.clone()),
        }
    }

    /// Bounds on request input, for the adapter's parsing.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub async fn create(&self, key: &IdempotencyKey, fields: NoteFields) -> Result<Note, Error> {
        let txn = match self.core.writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let note = Note::new(fields, domain::now());
        store::insert(&txn, &note).await?;
        let m = Mutation {
            resource: note.id.name(),
            touched: vec![note.id],
            value: note,
        };
        self.core.writes.commit(txn, key, m).await
    }

    /// A note, through the cache.
    pub async fn get(&self, id: NoteId) -> Result<Arc<Note>, Error> {
        self.core
            .cache
            .get_or_load(&id.0.to_string(), || store::find(&self.core.db, id))
            .await?
            .ok_or_else(|| error::not_found(id))
    }

    /// One page of notes, oldest first.
    pub async fn list(&self, page_size: u32, page_token: &str) -> Result<Page<Note>, Error> {
        // Everything that selects the rows (filters, order) goes in the fingerprint, so a
        // token is refused with another query.
        let fingerprint = PageTokens::fingerprint(&["notes"]);
        let after: Option<Uuid> = self.core.tokens.decode(page_token, &fingerprint)?;
        let limit = self.core.paging.limit(page_size);
        let mut items = store::list(&self.core.db, after, limit + 1).await?;
        let next_page_token = self
            .core
            .tokens
            .next_page(&mut items, limit, &fingerprint, |n| n.id.0);
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Changes the fields `mask` names; `sent_etag` (when not empty) must be the current one.
    pub async fn update(
        &self,
        key: &IdempotencyKey,
        id: NoteId,
        patch: NoteFields,
        mask: &UpdateMask,
        sent_etag: &str,
    ) -> Result<Note, Error> {
        let txn = match self.core.writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let note = current(&txn, id, sent_etag)
            .await?
            .updated(patch, mask, domain::now());
        // Compare-and-set on the revision read: a concurrent writer makes this ABORTED too.
        if !store::update(&txn, &note).await? {
            return Err(Error::etag_mismatch());
        }
        let m = Mutation {
            resource: id.name(),
            touched: vec![id],
            value: note,
        };
        self.core.writes.commit(txn, key, m).await
    }

    pub async fn delete(
        &self,
        key: &IdempotencyKey,
        id: NoteId,
        sent_etag: &str,
    ) -> Result<(), Error> {
        let txn = match self.core.writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let revision = current(&txn, id, sent_etag).await?.revision;
        if !store::delete(&txn, id, revision).await? {
            return Err(Error::etag_mismatch());
        }
        let m = Mutation {
            resource: id.name(),
            touched: vec![id],
            value: (),
        };
        self.core.writes.commit(txn, key, m).await
    }
}

/// The note as stored in `txn`, when `sent_etag` (empty: no precondition) is its current etag.
async fn current(txn: &DatabaseTransaction, id: NoteId, sent_etag: &str) -> Result<Note, Error> {
    let note = store::find(txn, id)
        .await?
        .ok_or_else(|| error::not_found(id))?;
    etag::check(sent_etag, note.revision)?;
    Ok(note)
}
