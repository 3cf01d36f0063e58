//! Bulk upsert of customers: by external id, else by primary e-mail. Rows are written in
//! batches, one transaction per batch; each row runs in its own savepoint, so one bad row never
//! aborts the good ones. Every row is idempotent under its own key: a re-sent row replays its
//! first result instead of writing again.
use super::writes::validate;
use super::{CustomersService, save_revision};
use crate::domain::import::{self, UpsertKey};
use crate::domain::{self, Customer, CustomerId, Profile};
use crate::events::{self, CustomerEvents};
use crate::store::customers as store;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::idempotency::IdempotencyKey;
use crm_platform::import::{self as bulk, Applied, Imported};
use crm_platform::pii::Keys;
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};

/// The method name row keys are stored under.
pub const IMPORT_METHOD: &str = "ImportCustomers";

/// One row as parsed by the adapter: its key and its profile, or why it cannot be imported.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub key: IdempotencyKey,
    pub profile: Result<Profile, Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportAction {
    Created,
    Updated,
}

/// What happened to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportOutcome {
    Written {
        action: ImportAction,
        customer: CustomerId,
        /// Written by an earlier call with the same key; this is its first result.
        replayed: bool,
    },
    Failed(Vec<String>),
}

/// The stored (replayable) result of a written row.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredRow {
    action: ImportAction,
    customer: CustomerId,
}

impl CustomersService {
    /// How many rows one import transaction writes.
    pub fn import_batch_size(&self) -> usize {
        self.cfg.import_batch_size
    }

    /// How long an import stream may stay silent before it is ended.
    pub fn import_idle_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.cfg.import_idle_timeout_ms)
    }

    /// Writes `rows` in one transaction and returns one outcome per row, in order. An error
    /// here (the database failed) means nothing of this batch was written.
    pub async fn import_batch(&self, rows: Vec<ImportRow>) -> Result<Vec<ImportOutcome>, Error> {
        let pii = self.keys().await?;
        let now = domain::now();
        let rows = rows.into_iter().map(|r| (r.key, r.profile)).collect();
        let events = self.events.clone();
        let outcomes = bulk::write_batch(&self.core.db, rows, move |txn, profile| {
            let (pii, events) = (pii.clone(), events.clone());
            Box::pin(async move {
                let profile = match profile {
                    Ok(profile) => profile,
                    Err(errors) => return Ok(Applied::Refused(errors)),
                };
                let (action, customer) = upsert(txn, &pii, &events, profile, now).await?;
                Ok(Applied::Written {
                    resource: customer.id.name(),
                    stored: StoredRow {
                        action,
                        customer: customer.id,
                    },
                })
            })
        })
        .await?;
        let mut touched = Vec::new();
        let out = outcomes
            .into_iter()
            .map(|o| match o {
                Imported::Written { stored, replayed } => {
                    if !replayed {
                        touched.push(stored.customer);
                    }
                    ImportOutcome::Written {
                        action: stored.action,
                        customer: stored.customer,
                        replayed,
                    }
                }
                Imported::Failed(errors) => ImportOutcome::Failed(errors),
            })
            .collect();
        self.invalidate(&touched).await;
        Ok(out)
    }
}

/// Creates or updates the customer of one row, with its events (in the row's savepoint: a
/// refused row publishes nothing).
async fn upsert(
    txn: &DatabaseTransaction,
    pii: &Keys,
    publisher: &CustomerEvents,
    profile: Profile,
    now: DateTime<Utc>,
) -> Result<(ImportAction, Customer), Error> {
    let Some(upsert_key) = import::upsert_key(&profile) else {
        return Err(Error::invalid_field(
            "customer",
            "needs external_id or primary_email to upsert by",
        ));
    };
    let existing = match upsert_key {
        UpsertKey::ExternalId(x) => store::find_by_external_id(txn, pii, x).await?,
        UpsertKey::PrimaryEmail(e) => {
            store::find_active_by_primary_email(txn, pii, e.as_str()).await?
        }
    };
    match existing {
        Some(mut c) => {
            if let Some(why) = import::refused_over(&c) {
                return Err(crate::error::failed_precondition(why));
            }
            let before = c.clone();
            let fields = import::update_with(&mut c.profile, profile);
            validate(&c.profile)?;
            let details = format!("fields: {}", fields.join(", "));
            save_revision(txn, pii, &mut c, now, "imported", "import", &details).await?;
            publisher
                .append(txn, c.id, events::updated(&before, &c))
                .await?;
            Ok((ImportAction::Updated, c))
        }
        None => {
            validate(&profile)?;
            let c = Customer::new(profile, now);
            store::insert(txn, pii, &c).await?;
            store::add_audit(txn, c.id, "imported", "import", "created", now).await?;
            publisher.append(txn, c.id, events::created(&c)).await?;
            Ok((ImportAction::Created, c))
        }
    }
}
