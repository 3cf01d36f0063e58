//! The customers use cases. No tonic or proto types here: the gRPC adapter parses requests
//! into domain types, calls these methods and converts the results back.
mod activity;
mod erasure;
mod gdpr;
mod import;
mod merge;
mod unsubscribe;
mod writes;

pub use activity::{ActivityPage, InsightsReport};
pub use erasure::Recorded;
pub use gdpr::{EXPORT_CHUNK, ExportChunk, ExportCursor, ExportHead};
pub use import::{IMPORT_METHOD, ImportAction, ImportOutcome, ImportRow};
pub use merge::MergeOutcome;
pub use unsubscribe::{UNSUBSCRIBE_SOURCE, Unsubscribed};

use crate::domain::{
    Customer, CustomerId, CustomerState, Email, LifecycleStage, OrderField, Phone,
};
use crate::error;
use crate::events::CustomerEvents;
use crate::settings::CustomersSettings;
use crate::store::customers::{
    self as store, CONTACT_EMAIL, CONTACT_NAME, CONTACT_PHONE, Cursor, ListQuery,
};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::app::Core;
use crm_platform::audit::{AccessFilter, AccessLog, AccessRecord};
use crm_platform::cache::Cache;
use crm_platform::idempotency::Begun;
use crm_platform::mutation::Touched;
use crm_platform::page_token::PageTokens;
pub use crm_platform::paging::Page;
use crm_platform::pii::{Keys, Pii};
use sea_orm::DatabaseTransaction;
use std::sync::Arc;

#[derive(Clone)]
pub struct CustomersService {
    core: Core,
    /// Where each mutation appends its events, in its own transaction.
    events: CustomerEvents,
    cfg: Arc<CustomersSettings>,
    /// The keys profiles are sealed with and searched by.
    pii: Pii,
    /// Who read, exported, erased or merged whom.
    access: AccessLog,
}

/// List filters and order, as parsed by the adapter.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub tag: Option<String>,
    pub lifecycle_stage: Option<LifecycleStage>,
    pub updated_since: Option<DateTime<Utc>>,
    pub order: Option<(OrderField, bool)>,
    pub show_deleted: bool,
}

#[derive(Debug, Clone)]
pub enum SearchQuery {
    Email(Email),
    Phone(Phone),
    NamePrefix(String),
}

#[derive(Debug, Clone)]
pub struct Duplicate {
    pub customer: Customer,
    pub reasons: Vec<&'static str>,
    pub score: f64,
}

/// Index pages one search by a long name prefix reads at most.
const LONG_PREFIX_PAGES: usize = 8;

/// How many hops of merged-into a lookup follows (merges re-point chains, so one is usual).
const MAX_MERGE_HOPS: usize = 8;

impl CustomersService {
    pub fn new(
        mut core: Core,
        events: CustomerEvents,
        cfg: CustomersSettings,
        pii: Pii,
        access: AccessLog,
    ) -> Self {
        // Copies outside the customers table hold personal data too: sealed as well.
        core.writes = core.writes.sealing(pii.clone());
        core.cache.seal_remote(pii.clone());
        Self {
            core,
            events,
            cfg: Arc::new(cfg),
            pii,
            access,
        }
    }

    /// The personal-data keys (loaded at start; see crm_platform::pii).
    async fn keys(&self) -> Result<Arc<Keys>, Error> {
        self.pii.keys().await
    }

    /// The keys, for the re-encryption job and tests.
    pub fn pii(&self) -> &Pii {
        &self.pii
    }

    /// The access audit (reads are queued on it; erasures and merges record in their
    /// transaction).
    pub fn access(&self) -> &AccessLog {
        &self.access
    }

    /// Lists access records (`ListAccessRecords`).
    pub async fn list_access(
        &self,
        filter: &AccessFilter,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<AccessRecord>, Error> {
        crm_platform::audit::list(
            &self.core.db,
            &self.core.tokens,
            filter,
            self.page_size(page_size),
            page_token,
        )
        .await
    }

    pub fn cache(&self) -> &Cache {
        &self.core.cache
    }

    /// Bounds on request input, for the adapter's parsing.
    pub fn limits(&self) -> &crate::settings::InputLimits {
        &self.cfg.limits
    }

    fn page_size(&self, requested: u32) -> u64 {
        self.core.paging.limit(requested)
    }

    /// A customer as stored, through the cache.
    async fn load(&self, id: CustomerId) -> Result<Option<Arc<Customer>>, Error> {
        self.core
            .cache
            .get_or_load(&id.0.to_string(), || async {
                store::find(&self.core.db, &*self.keys().await?, id).await
            })
            .await
    }

    /// A customer, following merges to the survivor.
    async fn resolve(&self, id: CustomerId) -> Result<Arc<Customer>, Error> {
        let mut current = id;
        for _ in 0..MAX_MERGE_HOPS {
            let c = self
                .load(current)
                .await?
                .ok_or_else(|| error::not_found(current))?;
            match (c.state, c.merged_into) {
                (CustomerState::Merged, Some(next)) => current = next,
                _ => return Ok(c),
            }
        }
        Err(Error::internal(anyhow::anyhow!(
            "merge chain of {id} longer than {MAX_MERGE_HOPS}"
        )))
    }

    pub async fn get(&self, id: CustomerId) -> Result<Arc<Customer>, Error> {
        self.resolve(id).await
    }

    /// At most `max_batch` customers in request order, merged ones resolved to their
    /// survivors: one read for all of them (plus one per merge hop, usually none).
    pub async fn batch_get(&self, ids: &[CustomerId]) -> Result<Vec<Arc<Customer>>, Error> {
        let pii = self.keys().await?;
        if ids.len() > self.cfg.max_batch {
            return Err(Error::invalid_field(
                "names",
                format!("at most {} names", self.cfg.max_batch),
            ));
        }
        let mut known: std::collections::HashMap<CustomerId, Arc<Customer>> =
            std::collections::HashMap::new();
        let mut wanted: Vec<uuid::Uuid> = ids.iter().map(|i| i.0).collect();
        for _ in 0..=MAX_MERGE_HOPS {
            wanted.sort_unstable();
            wanted.dedup();
            wanted.retain(|id| !known.contains_key(&CustomerId(*id)));
            if wanted.is_empty() {
                break;
            }
            let found = store::find_many(&self.core.db, &pii, &wanted).await?;
            wanted = found
                .iter()
                .filter(|c| c.state == CustomerState::Merged)
                .filter_map(|c| c.merged_into.map(|m| m.0))
                .collect();
            known.extend(found.into_iter().map(|c| (c.id, Arc::new(c))));
        }
        ids.iter()
            .map(|id| {
                let mut current = *id;
                for _ in 0..=MAX_MERGE_HOPS {
                    let c = known
                        .get(&current)
                        .ok_or_else(|| error::not_found(current))?;
                    match (c.state, c.merged_into) {
                        (CustomerState::Merged, Some(next)) => current = next,
                        _ => return Ok(c.clone()),
                    }
                }
                Err(Error::internal(anyhow::anyhow!(
                    "merge chain of {id} longer than {MAX_MERGE_HOPS}"
                )))
            })
            .collect()
    }

    pub async fn list(
        &self,
        f: &ListFilter,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Customer>, Error> {
        let (order, descending) = f.order.unwrap_or((OrderField::CreateTime, false));
        let fingerprint = PageTokens::fingerprint(&[
            "list",
            f.tag.as_deref().unwrap_or(""),
            f.lifecycle_stage.map(|s| s.as_str()).unwrap_or(""),
            &f.updated_since.map(|t| t.to_rfc3339()).unwrap_or_default(),
            &format!("{order:?}:{descending}:{}", f.show_deleted),
        ]);
        let after: Option<Cursor> = self.core.tokens.decode(page_token, &fingerprint)?;
        let limit = self.page_size(page_size);
        let q = ListQuery {
            tag: f.tag.clone(),
            lifecycle_stage: f.lifecycle_stage,
            updated_since: f.updated_since,
            order,
            descending,
            show_deleted: f.show_deleted,
            after,
            limit: limit + 1,
        };
        let keys = self.keys().await?;
        if keys.write_key().is_some() && q.order == OrderField::DisplayName {
            return Err(Error::invalid_field(
                "order_by",
                "display_name is encrypted at rest and cannot order a list; order by create_time or update_time",
            ));
        }
        let mut rows = store::list(&self.core.db, &keys, &q).await?;
        let next = self
            .core
            .tokens
            .next_page(&mut rows, limit, &fingerprint, |c| {
                store::cursor_of(c, order)
            });
        Ok(Page {
            items: rows,
            next_page_token: next,
        })
    }

    pub async fn search(
        &self,
        q: &SearchQuery,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Customer>, Error> {
        let keys = self.keys().await?;
        // The blind index looked up, and for a name prefix longer than the indexed ones the
        // whole prefix, checked on the opened profiles.
        let (kind, value, index, longer) = match q {
            SearchQuery::Email(e) => (
                CONTACT_EMAIL,
                e.as_str(),
                keys.index(store::INDEX_EMAIL, e.as_str()),
                None,
            ),
            SearchQuery::Phone(p) => (
                CONTACT_PHONE,
                p.as_str(),
                keys.index(store::INDEX_PHONE, p.as_str()),
                None,
            ),
            SearchQuery::NamePrefix(n) => {
                let indexed = match n.char_indices().nth(store::NAME_PREFIX_MAX) {
                    Some((end, _)) => &n[..end],
                    None => n.as_str(),
                };
                let longer = (indexed.len() < n.len()).then_some(n.as_str());
                (
                    CONTACT_NAME,
                    n.as_str(),
                    keys.index(store::INDEX_NAME_PREFIX, indexed),
                    longer,
                )
            }
        };
        let fingerprint = PageTokens::fingerprint(&["search", kind, value]);
        let mut after: Option<store::SearchCursor> =
            self.core.tokens.decode(page_token, &fingerprint)?;
        let limit = self.page_size(page_size);
        let mut found = Vec::new();
        // A long prefix reads a bounded number of index pages per call: a page may come back
        // short (with a next page token), never slow.
        for _ in 0..LONG_PREFIX_PAGES {
            let rows = store::search_contact(
                &self.core.db,
                &keys,
                kind,
                &index,
                after.as_ref(),
                limit + 1,
            )
            .await?;
            let exhausted = (rows.len() as u64) <= limit;
            for c in rows {
                if found.len() as u64 > limit {
                    break;
                }
                after = Some(store::SearchCursor { id: c.id.0 });
                if longer.is_none_or(|l| c.profile.name_keys().iter().any(|k| k.starts_with(l))) {
                    found.push(c);
                }
            }
            if exhausted || found.len() as u64 > limit || longer.is_none() {
                let next = if found.len() as u64 > limit {
                    found.truncate(limit as usize);
                    found.last().map(|c| store::SearchCursor { id: c.id.0 })
                } else if exhausted {
                    None
                } else {
                    after
                };
                return Ok(Page {
                    items: found,
                    next_page_token: next
                        .map(|c| self.core.tokens.encode(&fingerprint, &c))
                        .unwrap_or_default(),
                });
            }
        }
        Ok(Page {
            items: found,
            next_page_token: after
                .map(|c| self.core.tokens.encode(&fingerprint, &c))
                .unwrap_or_default(),
        })
    }

    /// One page of likely duplicates of `id`, strongest evidence first.
    pub async fn find_duplicates(
        &self,
        id: CustomerId,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Duplicate>, Error> {
        let target = self.resolve(id).await?;
        let pii = self.keys().await?;
        let p = &target.profile;
        let keys = store::DuplicateKeys {
            emails: p
                .emails()
                .map(|e| pii.index(store::INDEX_EMAIL, e.as_str()))
                .collect(),
            phones: p
                .phones
                .iter()
                .map(|x| pii.index(store::INDEX_PHONE, x.as_str()))
                .collect(),
            name_and_birth_date: p
                .birth_date
                .map(|d| store::name_dob_index(&pii, &p.full_name_key(), d)),
        };
        let fingerprint = PageTokens::fingerprint(&["duplicates", &target.id.name()]);
        let after: Option<store::DuplicateCursor> =
            self.core.tokens.decode(page_token, &fingerprint)?;
        let limit = self.page_size(page_size);
        let mut ranked =
            store::duplicate_page(&self.core.db, target.id, &keys, after.as_ref(), limit + 1)
                .await?;
        let next = self
            .core
            .tokens
            .next_page(&mut ranked, limit, &fingerprint, Clone::clone);
        let ids: Vec<uuid::Uuid> = ranked.iter().map(|r| r.id).collect();
        let mut found: std::collections::HashMap<uuid::Uuid, Customer> =
            store::find_many(&self.core.db, &pii, &ids)
                .await?
                .into_iter()
                .map(|c| (c.id.0, c))
                .collect();
        let items = ranked
            .iter()
            .filter_map(|r| found.remove(&r.id))
            .filter_map(|c| {
                crate::domain::duplicates::score(p, &c.profile).map(|(reasons, score)| Duplicate {
                    customer: c,
                    reasons,
                    score,
                })
            })
            .collect();
        Ok(Page {
            items,
            next_page_token: next,
        })
    }

    crm_platform::write_path!(core.writes, CustomerId);
}

/// A customers mutation: its response, resource and the customers to drop from the cache.
type Mutation<T> = crm_platform::mutation::Mutation<T, CustomerId>;

impl Touched for CustomerId {
    async fn invalidate(&self, cache: &Cache) {
        cache.invalidate::<Customer>(&self.0.to_string()).await;
    }
}

/// Runs a domain check and reports its violations under `prefix` (the request field).
fn check_under(
    prefix: &str,
    check: impl FnOnce(&mut crm_platform::Violations),
) -> Result<(), Error> {
    let mut v = crm_platform::Violations::new();
    check(&mut v);
    let mut out = crm_platform::Violations::new();
    out.extend_prefixed(prefix, v);
    out.into_result()
}

/// Stores `c` as its next revision (compare-and-set on the revision it was read at, so a
/// concurrent writer makes this fail with ABORTED) and records `action` in its audit log.
async fn save_revision(
    txn: &DatabaseTransaction,
    pii: &Keys,
    c: &mut Customer,
    now: DateTime<Utc>,
    action: &str,
    actor: &str,
    details: &str,
) -> Result<(), Error> {
    c.revision += 1;
    c.update_time = now;
    if !store::update(txn, pii, c).await? {
        return Err(Error::etag_mismatch());
    }
    store::add_audit(txn, c.id, action, actor, details, now).await
}

/// Loads a customer for writing inside `txn` and checks it can be changed.
async fn load_writable(
    txn: &DatabaseTransaction,
    pii: &Keys,
    id: CustomerId,
) -> Result<Customer, Error> {
    let c = store::find(txn, pii, id)
        .await?
        .ok_or_else(|| error::not_found(id))?;
    c.writable().map_err(|why| error::refused(id, why))?;
    Ok(c)
}
