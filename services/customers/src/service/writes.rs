//! Create, update, delete, undelete.
use super::{Begun, CustomersService, Mutation, check_under, load_writable, save_revision};
use crate::domain::{self, Customer, CustomerId, Profile};
use crate::error;
use crate::events;
use crate::store::customers as store;
use crm_platform::field_mask::UpdateMask;
use crm_platform::idempotency::IdempotencyKey;
use crm_platform::{Error, etag};

/// Checks cross-field rules, reporting fields under `customer.`.
pub(super) fn validate(profile: &Profile) -> Result<(), Error> {
    check_under("customer", |v| profile.validate(v))
}

impl CustomersService {
    pub async fn create(
        &self,
        key: &IdempotencyKey,
        profile: Profile,
        actor: &str,
    ) -> Result<Customer, Error> {
        let pii = self.keys().await?;
        validate(&profile)?;
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let m = {
            let txn = &txn;
            let now = domain::now();
            let c = Customer::new(profile.clone(), now);
            store::insert(txn, &pii, &c).await?;
            store::add_audit(txn, c.id, "created", actor, "", now).await?;
            self.events.append(txn, c.id, events::created(&c)).await?;
            Mutation {
                resource: c.id.name(),
                touched: vec![c.id],
                value: c,
            }
        };
        self.commit(txn, key, m).await
    }

    pub async fn update(
        &self,
        key: &IdempotencyKey,
        id: CustomerId,
        patch: Profile,
        mask: &UpdateMask,
        etag: &str,
        actor: &str,
    ) -> Result<Customer, Error> {
        let pii = self.keys().await?;
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let m = {
            let txn = &txn;
            let mut c = load_writable(txn, &pii, id).await?;
            etag::check(etag, c.revision)?;
            let before = c.clone();
            c.profile.apply(patch.clone(), mask.paths());
            validate(&c.profile)?;
            let fields: Vec<&str> = mask.paths().collect();
            let details = format!("fields: {}", fields.join(", "));
            save_revision(txn, &pii, &mut c, domain::now(), "updated", actor, &details).await?;
            self.events
                .append(txn, id, events::updated(&before, &c))
                .await?;
            Mutation {
                resource: id.name(),
                touched: vec![id],
                value: c,
            }
        };
        self.commit(txn, key, m).await
    }

    pub async fn delete(
        &self,
        key: &IdempotencyKey,
        id: CustomerId,
        etag: &str,
        actor: &str,
    ) -> Result<Customer, Error> {
        let pii = self.keys().await?;
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let m = {
            let txn = &txn;
            let mut c = load_writable(txn, &pii, id).await?;
            etag::check(etag, c.revision)?;
            let now = domain::now();
            c.delete(now);
            save_revision(txn, &pii, &mut c, now, "deleted", actor, "").await?;
            self.events
                .append(txn, id, vec![events::deleted(&c)])
                .await?;
            Mutation {
                resource: id.name(),
                touched: vec![id],
                value: c,
            }
        };
        self.commit(txn, key, m).await
    }

    pub async fn undelete(
        &self,
        key: &IdempotencyKey,
        id: CustomerId,
        actor: &str,
    ) -> Result<Customer, Error> {
        let pii = self.keys().await?;
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let m = {
            let txn = &txn;
            let mut c = store::find(txn, &pii, id)
                .await?
                .ok_or_else(|| error::not_found(id))?;
            let before = c.clone();
            c.undelete().map_err(|why| error::refused(id, why))?;
            let now = domain::now();
            save_revision(txn, &pii, &mut c, now, "undeleted", actor, "").await?;
            self.events
                .append(txn, id, events::updated(&before, &c))
                .await?;
            Mutation {
                resource: id.name(),
                touched: vec![id],
                value: c,
            }
        };
        self.commit(txn, key, m).await
    }
}
