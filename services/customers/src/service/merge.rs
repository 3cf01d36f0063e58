//! Merging duplicates into a survivor chosen by the caller.
use super::{Begun, CustomersService, Mutation, load_writable, save_revision};
use crate::domain::merge::{check_parties, merge_profiles};
use crate::domain::{self, Customer, CustomerId};
use crate::events;
use crate::store::{activities, customers as store};
use crm_platform::audit::AccessRecord;
use crm_platform::idempotency::IdempotencyKey;
use crm_platform::pii::Keys;
use crm_platform::{Error, Violations};
use sea_orm::{DatabaseTransaction, TransactionTrait};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergeOutcome {
    pub survivor: Customer,
    pub merged: Vec<CustomerId>,
    pub moved_activities: u64,
    pub preview: bool,
}

impl CustomersService {
    /// Checks who takes part in a merge before anything is read.
    fn check_merge(&self, survivor: CustomerId, merged: &[CustomerId]) -> Result<(), Error> {
        let mut v = Violations::new();
        check_parties(survivor, merged, self.cfg.max_batch, &mut v);
        v.into_result()
    }

    /// The merge without writing anything.
    pub async fn preview_merge(
        &self,
        survivor: CustomerId,
        merged: &[CustomerId],
    ) -> Result<MergeOutcome, Error> {
        self.check_merge(survivor, merged)?;
        let pii = self.keys().await?;
        let txn = self.core.db.begin().await?;
        let (mut s, losers) = load_parties(&txn, &pii, survivor, merged).await?;
        let profiles: Vec<_> = losers.iter().map(|l| &l.profile).collect();
        s.profile = merge_profiles(&s.profile, &profiles);
        let ids: Vec<uuid::Uuid> = merged.iter().map(|m| m.0).collect();
        let moved = activities::count_of(&txn, &ids).await?;
        txn.rollback().await?;
        Ok(MergeOutcome {
            survivor: s,
            merged: merged.to_vec(),
            moved_activities: moved,
            preview: true,
        })
    }

    pub async fn merge(
        &self,
        key: &IdempotencyKey,
        survivor: CustomerId,
        merged: &[CustomerId],
        actor: &str,
        access: &AccessRecord,
    ) -> Result<MergeOutcome, Error> {
        let pii = self.keys().await?;
        self.check_merge(survivor, merged)?;
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let m = {
            let txn = &txn;
            let now = domain::now();
            let (mut s, losers) = load_parties(txn, &pii, survivor, merged).await?;
            let before = s.clone();
            let profiles: Vec<_> = losers.iter().map(|l| &l.profile).collect();
            s.profile = merge_profiles(&s.profile, &profiles);
            let mut touched = vec![survivor];
            // Losers first: their search keys and external ids go before the survivor takes them.
            for mut l in losers.iter().cloned() {
                l.merge_into(survivor);
                save_revision(
                    txn,
                    &pii,
                    &mut l,
                    now,
                    "merged_into",
                    actor,
                    &survivor.name(),
                )
                .await?;
                touched.push(l.id);
            }
            let ids: Vec<uuid::Uuid> = merged.iter().map(|m| m.0).collect();
            touched.extend(store::repoint_merged(txn, &ids, survivor).await?);
            let moved = activities::move_all(txn, &ids, survivor).await?;
            // One record per party (`access` is about the survivor), in this transaction.
            let mut records = vec![access.clone()];
            records.extend(merged.iter().map(|m| access.about(m.name(), m.0)));
            crm_platform::audit::record_in(txn, records).await?;
            let names: Vec<String> = merged.iter().map(|m| m.name()).collect();
            let details = format!("merged {} ({moved} activities moved)", names.join(", "));
            save_revision(txn, &pii, &mut s, now, "merged", actor, &details).await?;
            // The merge, then what it filled in on the survivor.
            let mut facts = vec![events::merged(survivor, merged, actor, now)];
            facts.extend(events::updated(&before, &s));
            self.events.append(txn, survivor, facts).await?;
            let value = MergeOutcome {
                survivor: s,
                merged: merged.to_vec(),
                moved_activities: moved,
                preview: false,
            };
            Mutation {
                value,
                resource: survivor.name(),
                touched,
            }
        };
        self.commit(txn, key, m).await
    }
}

async fn load_parties(
    txn: &DatabaseTransaction,
    pii: &Keys,
    survivor: CustomerId,
    merged: &[CustomerId],
) -> Result<(Customer, Vec<Customer>), Error> {
    let s = load_writable(txn, pii, survivor).await?;
    let mut losers = Vec::with_capacity(merged.len());
    for m in merged {
        losers.push(load_writable(txn, pii, *m).await?);
    }
    Ok((s, losers))
}
