//! Data-protection requests: export everything held about a customer, or erase it.
use super::{Begun, CustomersService, Mutation, save_revision};
use crate::domain::erase::anonymise;
use crate::domain::{self, Activity, AuditEntry, Customer, CustomerId, CustomerState};
use crate::error;
use crate::store::{activities, customers as store};
use crm_platform::Error;
use crm_platform::idempotency::{self, IdempotencyKey};
use sea_orm::TransactionTrait;

#[derive(Debug, Clone)]
pub struct Export {
    pub customer: Customer,
    pub activities: Vec<Activity>,
    pub audit: Vec<AuditEntry>,
    pub merged_customers: Vec<CustomerId>,
    pub export_time: chrono::DateTime<chrono::Utc>,
}

impl CustomersService {
    /// One consistent snapshot (a single read transaction) of a customer's data.
    pub async fn export(&self, id: CustomerId) -> Result<Export, Error> {
        let owner = self.resolve(id).await?.id;
        let txn = self.db.begin().await?;
        let customer = store::find(&txn, owner)
            .await?
            .ok_or_else(|| error::not_found(owner))?;
        let activities = activities::all_of(&txn, owner).await?;
        let audit = store::audit_of(&txn, owner).await?;
        let merged_customers = store::merged_into(&txn, owner).await?;
        txn.commit().await?;
        Ok(Export {
            customer,
            activities,
            audit,
            merged_customers,
            export_time: domain::now(),
        })
    }

    /// Anonymises the customer and every customer merged into it, scrubs activity text and
    /// drops stored idempotent responses about them. Purchase amounts and times stay.
    pub async fn erase(
        &self,
        key: &IdempotencyKey,
        id: CustomerId,
        actor: &str,
    ) -> Result<Customer, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let m = {
            let txn = &txn;
            let mut c = store::find(txn, id)
                .await?
                .ok_or_else(|| error::not_found(id))?;
            match (c.state, c.merged_into) {
                (CustomerState::Merged, Some(survivor)) => return Err(error::merged(id, survivor)),
                (CustomerState::Erased, _) => return Err(error::erased(id)),
                _ => {}
            }
            let now = domain::now();
            let mut touched = vec![id];
            for loser_id in store::merged_into(txn, id).await? {
                if let Some(mut loser) = store::find(txn, loser_id).await? {
                    loser.profile = anonymise(&loser.profile);
                    save_revision(txn, &mut loser, now, "erased", actor, "").await?;
                    idempotency::forget_resource(txn, &loser_id.name()).await?;
                    touched.push(loser_id);
                }
            }
            c.profile = anonymise(&c.profile);
            c.state = CustomerState::Erased;
            c.delete_time = Some(now);
            save_revision(txn, &mut c, now, "erased", actor, "").await?;
            activities::scrub(txn, id).await?;
            idempotency::forget_resource(txn, &id.name()).await?;
            Mutation {
                resource: id.name(),
                touched,
                value: c,
            }
        };
        self.commit(txn, key, m).await
    }
}
