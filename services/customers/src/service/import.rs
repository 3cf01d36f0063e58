//! Bulk upsert of customers: by external id, else by primary e-mail. Each row commits on its
//! own, so one bad row never aborts the good ones, and replaying an import is harmless.
use super::writes::validate;
use super::{CustomersService, save_revision};
use crate::domain::{self, Customer, CustomerState, Profile};
use crate::store::customers as store;
use crm_platform::{Error, Violations};
use sea_orm::TransactionTrait;

#[derive(Debug, Clone)]
pub enum ImportOutcome {
    Created(Customer),
    Updated(Customer),
}

impl CustomersService {
    pub async fn import_row(&self, profile: Profile) -> Result<ImportOutcome, Error> {
        let mut v = Violations::new();
        if profile.external_id.is_none() && profile.primary_email.is_none() {
            v.add(
                "customer",
                "needs external_id or primary_email to upsert by",
            );
        }
        v.into_result()?;
        let txn = self.db.begin().await?;
        let existing = match (&profile.external_id, &profile.primary_email) {
            (Some(x), _) => store::find_by_external_id(&txn, x).await?,
            (None, Some(e)) => store::find_active_by_primary_email(&txn, e.as_str()).await?,
            _ => None,
        };
        let now = domain::now();
        let outcome = match existing {
            Some(c) if c.state != CustomerState::Active => {
                return Err(crate::error::failed_precondition(format!(
                    "{} is {}; it cannot be imported over",
                    c.id,
                    c.state.as_str()
                )));
            }
            Some(mut c) => {
                let fields = profile.set_fields();
                c.profile.apply(profile, fields.iter().copied());
                validate(&c.profile)?;
                let details = format!("fields: {}", fields.join(", "));
                save_revision(&txn, &mut c, now, "imported", "import", &details).await?;
                ImportOutcome::Updated(c)
            }
            None => {
                validate(&profile)?;
                let c = Customer::new(profile, now);
                store::insert(&txn, &c).await?;
                store::add_audit(&txn, c.id, "imported", "import", "created", now).await?;
                ImportOutcome::Created(c)
            }
        };
        txn.commit().await?;
        let id = match &outcome {
            ImportOutcome::Created(c) | ImportOutcome::Updated(c) => c.id,
        };
        self.invalidate(&[id]).await;
        Ok(outcome)
    }
}
