//! The customers use cases. No tonic or proto types here: the gRPC adapter parses requests
//! into domain types, calls these methods and converts the results back.
mod activity;
mod erasure;
mod gdpr;
mod import;
mod merge;
mod writes;

pub use activity::{ActivityPage, InsightsReport};
pub use erasure::Recorded;
pub use gdpr::{EXPORT_CHUNK, ExportChunk, ExportCursor, ExportHead};
pub use import::{IMPORT_METHOD, ImportAction, ImportOutcome, ImportRow};
pub use merge::MergeOutcome;

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
use sea_orm::DatabaseTransaction;
use std::sync::Arc;

#[derive(Clone)]
pub struct CustomersService {
    core: Core,
    /// Where each mutation appends its events, in its own transaction.
    events: CustomerEvents,
    cfg: Arc<CustomersSettings>,
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

/// How many hops of merged-into a lookup follows (merges re-point chains, so one is usual).
const MAX_MERGE_HOPS: usize = 8;

impl CustomersService {
    pub fn new(
        core: Core,
        events: CustomerEvents,
        cfg: CustomersSettings,
        access: AccessLog,
    ) -> Self {
        Self {
            core,
            events,
            cfg: Arc::new(cfg),
            access,
        }
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
            .get_or_load(&id.0.to_string(), || store::find(&self.core.db, id))
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
            let found = store::find_many(&self.core.db, &wanted).await?;
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
        let mut rows = store::list(&self.core.db, &q).await?;
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
        let (kind, value, prefix) = match q {
            SearchQuery::Email(e) => (CONTACT_EMAIL, e.as_str().to_owned(), false),
            SearchQuery::Phone(p) => (CONTACT_PHONE, p.as_str().to_owned(), false),
            SearchQuery::NamePrefix(n) => (CONTACT_NAME, n.clone(), true),
        };
        let fingerprint = PageTokens::fingerprint(&["search", kind, &value]);
        let after: Option<store::SearchCursor> =
            self.core.tokens.decode(page_token, &fingerprint)?;
        let limit = self.page_size(page_size);
        let m = if prefix {
            store::ContactMatch::Prefix(&value)
        } else {
            store::ContactMatch::Exact(&value)
        };
        let mut rows =
            store::search_contact(&self.core.db, kind, m, after.as_ref(), limit + 1).await?;
        let upper = store::prefix_upper_bound(&value);
        let next = self
            .core
            .tokens
            .next_page(&mut rows, limit, &fingerprint, |c| {
                // The key the row was found at: the value itself, or the customer's smallest
                // name key in the prefix range (the one the store lists it at).
                let v = if prefix {
                    c.profile
                        .name_keys()
                        .into_iter()
                        .filter(|k| *k >= value && upper.as_ref().is_none_or(|u| k < u))
                        .min()
                        .unwrap_or_else(|| value.clone())
                } else {
                    value.clone()
                };
                store::SearchCursor { v, id: c.id.0 }
            });
        Ok(Page {
            items: rows,
            next_page_token: next,
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
        let p = &target.profile;
        let keys = store::DuplicateKeys {
            emails: p.emails().map(|e| e.as_str().to_owned()).collect(),
            phones: p.phones.iter().map(|x| x.as_str().to_owned()).collect(),
            name_and_birth_date: p.birth_date.map(|d| (p.full_name_key(), d)),
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
            store::find_many(&self.core.db, &ids)
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
    c: &mut Customer,
    now: DateTime<Utc>,
    action: &str,
    actor: &str,
    details: &str,
) -> Result<(), Error> {
    c.revision += 1;
    c.update_time = now;
    if !store::update(txn, c).await? {
        return Err(Error::etag_mismatch());
    }
    store::add_audit(txn, c.id, action, actor, details, now).await
}

/// Loads a customer for writing inside `txn` and checks it can be changed.
async fn load_writable(txn: &DatabaseTransaction, id: CustomerId) -> Result<Customer, Error> {
    let c = store::find(txn, id)
        .await?
        .ok_or_else(|| error::not_found(id))?;
    c.writable().map_err(|why| error::refused(id, why))?;
    Ok(c)
}
