//! The customers' and activities' rows as the platform's re-encryption job sees them
//! (crm_platform::pii).
use super::convert::{activity_from_row, activity_to_row, customer_from_row};
use super::customers::rewrite;
use super::entities::{activity, customer};
use crm_platform::Error;
use crm_platform::pii::{Keys, LEGACY, Reseal};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

#[derive(Clone)]
pub struct CustomerRows {
    pub db: DatabaseConnection,
}

/// Rows the write key does not seal: other data keys, legacy plain text, and plain text
/// written while encryption was off (once it is on again).
fn stale(keys: &Keys, key: impl ColumnTrait) -> Condition {
    match keys.write_key() {
        Some(w) => Condition::any().add(key.is_null()).add(key.ne(w)),
        None => Condition::all().add(key.eq(LEGACY)),
    }
}

impl Reseal for CustomerRows {
    /// Customers first, then activities (a page is one table's).
    async fn reseal_page(&self, keys: &Keys, limit: u64) -> Result<u64, Error> {
        match self.reseal_customers(keys, limit).await? {
            0 => self.reseal_activities(keys, limit).await,
            n => Ok(n),
        }
    }

    async fn keys_in_use(&self) -> Result<Vec<String>, Error> {
        let mut keys =
            distinct_keys::<customer::Entity>(&self.db, customer::Column::PiiKey).await?;
        keys.extend(distinct_keys::<activity::Entity>(&self.db, activity::Column::PiiKey).await?);
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}

/// The data key ids rows of `E` carry (its `pii_key` column `key`).
async fn distinct_keys<E: EntityTrait>(
    db: &DatabaseConnection,
    key: E::Column,
) -> Result<Vec<String>, Error> {
    let keys: Vec<Option<String>> = E::find()
        .select_only()
        .column(key)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    Ok(keys.into_iter().flatten().collect())
}

impl CustomerRows {
    async fn reseal_customers(&self, keys: &Keys, limit: u64) -> Result<u64, Error> {
        let txn = self.db.begin().await?;
        let rows = customer::Entity::find()
            .filter(stale(keys, customer::Column::PiiKey))
            .order_by_asc(customer::Column::Id)
            .limit(limit)
            .all(&txn)
            .await?;
        let mut rewritten = 0;
        for row in rows {
            let c = customer_from_row(row, keys)?;
            // Same revision: the content (and so the etag and cached copies) stays; a writer
            // that got there first has sealed the row under its own key already.
            if rewrite(&txn, keys, &c, c.revision).await? {
                rewritten += 1;
            }
        }
        txn.commit().await?;
        Ok(rewritten)
    }

    /// Activities never change once written: no revision to check.
    async fn reseal_activities(&self, keys: &Keys, limit: u64) -> Result<u64, Error> {
        let txn = self.db.begin().await?;
        let rows = activity::Entity::find()
            .filter(stale(keys, activity::Column::PiiKey))
            .order_by_asc(activity::Column::Id)
            .limit(limit)
            // An erasure scrubbing these rows waits, so its scrub is not written over.
            .lock_exclusive()
            .all(&txn)
            .await?;
        let n = rows.len() as u64;
        for row in rows {
            let a = activity_from_row(row, keys)?;
            let mut row = activity_to_row(&a, keys)?;
            row.id = sea_orm::ActiveValue::Unchanged(a.id);
            activity::Entity::update(row).exec(&txn).await?;
        }
        txn.commit().await?;
        Ok(n)
    }
}
