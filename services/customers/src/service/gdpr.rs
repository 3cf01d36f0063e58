//! Data-protection requests: export everything held about a customer, or erase it.
use super::{Begun, CustomersService, Mutation, save_revision};
use crate::domain::{self, Activity, AuditEntry, Customer, CustomerId};
use crate::error;
use crate::store::{activities, customers as store, erasures};
use crm_platform::Error;
use crm_platform::audit::AccessRecord;
use crm_platform::idempotency::{self, IdempotencyKey};

/// The start of an export: the customer itself.
#[derive(Debug, Clone)]
pub struct ExportHead {
    pub customer: Customer,
    pub export_time: chrono::DateTime<chrono::Utc>,
    /// Set when the customer is erased.
    pub erasure: Option<domain::erasure::ErasureStatus>,
}

/// The next chunk of an export, and where the one after it starts (`None`: done).
#[derive(Debug, Clone)]
pub enum ExportChunk {
    Activities(Vec<Activity>),
    Audit(Vec<AuditEntry>),
    Merged(Vec<CustomerId>),
}

/// Where an export continues: activities, then audit entries, then merged customers.
#[derive(Debug, Clone)]
pub enum ExportCursor {
    Activities(Option<activities::Cursor>),
    Audit(Option<store::AuditCursor>),
    Merged(Option<uuid::Uuid>),
}

/// Rows per export chunk (one stream message).
pub const EXPORT_CHUNK: u64 = 500;

impl CustomersService {
    /// The customer an export is about (following merges) and the export time. The rest
    /// comes from [`Self::export_chunk`], a bounded chunk at a time (nothing unbounded is
    /// loaded), starting at `ExportCursor::Activities(None)`.
    pub async fn export_head(&self, id: CustomerId) -> Result<ExportHead, Error> {
        let pii = self.keys().await?;
        let owner = self.resolve(id).await?.id;
        let customer = store::find(&self.core.db, &pii, owner)
            .await?
            .ok_or_else(|| error::not_found(owner))?;
        let erasure = match customer.state {
            domain::CustomerState::Erased => Some(self.erasure_status_of(&customer).await?),
            _ => None,
        };
        Ok(ExportHead {
            customer,
            export_time: domain::now(),
            erasure,
        })
    }

    pub async fn export_chunk(
        &self,
        owner: CustomerId,
        at: ExportCursor,
    ) -> Result<(ExportChunk, Option<ExportCursor>), Error> {
        let pii = self.keys().await?;
        Ok(match at {
            ExportCursor::Activities(after) => {
                let rows =
                    activities::page_of(&self.core.db, &pii, owner, after.as_ref(), EXPORT_CHUNK)
                        .await?;
                let next = match rows.last() {
                    Some(a) if rows.len() as u64 == EXPORT_CHUNK => {
                        ExportCursor::Activities(Some(activities::Cursor {
                            t: a.occur_time,
                            id: a.id,
                        }))
                    }
                    _ => ExportCursor::Audit(None),
                };
                (ExportChunk::Activities(rows), Some(next))
            }
            ExportCursor::Audit(after) => {
                let rows =
                    store::audit_page(&self.core.db, owner, after.as_ref(), EXPORT_CHUNK).await?;
                let next = match rows.last() {
                    Some((c, _)) if rows.len() as u64 == EXPORT_CHUNK => {
                        ExportCursor::Audit(Some(c.clone()))
                    }
                    _ => ExportCursor::Merged(None),
                };
                (
                    ExportChunk::Audit(rows.into_iter().map(|(_, e)| e).collect()),
                    Some(next),
                )
            }
            ExportCursor::Merged(after) => {
                let ids = store::merged_page(&self.core.db, owner, after, EXPORT_CHUNK).await?;
                let next = match ids.last() {
                    Some(id) if ids.len() as u64 == EXPORT_CHUNK => {
                        Some(ExportCursor::Merged(Some(id.0)))
                    }
                    _ => None,
                };
                (ExportChunk::Merged(ids), next)
            }
        })
    }

    /// Anonymises the customer and every customer merged into it, scrubs activity text and
    /// drops stored idempotent responses about them. Purchase amounts and times stay.
    /// `access` (about `id`) is recorded in the erasure's transaction, once per customer
    /// erased; the records outlive the data.
    pub async fn erase(
        &self,
        key: &IdempotencyKey,
        id: CustomerId,
        actor: &str,
        access: &AccessRecord,
    ) -> Result<Customer, Error> {
        let pii = self.keys().await?;
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let m = {
            let txn = &txn;
            // Locked before anything is read: activities being recorded hold a share lock, so
            // this waits for them to commit and the scrub below sees them.
            let mut c = store::find_locked(txn, &pii, id, store::RowLock::Update)
                .await?
                .ok_or_else(|| error::not_found(id))?;
            let now = domain::now();
            c.erase(now).map_err(|why| error::refused(id, why))?;
            let mut touched = vec![id];
            let merged = store::merged_into(txn, id).await?;
            let mut records = vec![access.clone()];
            records.extend(merged.iter().map(|m| access.about(m.name(), m.0)));
            crm_platform::audit::record_in(txn, records).await?;
            for &loser_id in &merged {
                if let Some(mut loser) = store::find(txn, &pii, loser_id).await? {
                    loser.erase_merged();
                    save_revision(txn, &pii, &mut loser, now, "erased", actor, "").await?;
                    idempotency::forget_resource(txn, &loser_id.name()).await?;
                    touched.push(loser_id);
                }
            }
            save_revision(txn, &pii, &mut c, now, "erased", actor, "").await?;
            activities::scrub(txn, &pii, id).await?;
            idempotency::forget_resource(txn, &id.name()).await?;
            let event_id = self.events.append_erased(txn, id, &merged, now).await?;
            erasures::record_erasure(txn, id, event_id, now).await?;
            Mutation {
                resource: id.name(),
                touched,
                value: c,
            }
        };
        self.commit(txn, key, m).await
    }
}
