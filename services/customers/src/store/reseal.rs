//! The customers' rows as the platform's re-encryption job sees them (crm_platform::pii).
use super::convert::customer_from_row;
use super::customers::rewrite;
use super::entities::customer;
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
fn stale(keys: &Keys) -> Condition {
    let key = customer::Column::PiiKey;
    match keys.write_key() {
        Some(w) => Condition::any().add(key.is_null()).add(key.ne(w)),
        None => Condition::all().add(key.eq(LEGACY)),
    }
}

impl Reseal for CustomerRows {
    async fn reseal_page(&self, keys: &Keys, limit: u64) -> Result<u64, Error> {
        let txn = self.db.begin().await?;
        let rows = customer::Entity::find()
            .filter(stale(keys))
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

    async fn keys_in_use(&self) -> Result<Vec<String>, Error> {
        let keys: Vec<Option<String>> = customer::Entity::find()
            .select_only()
            .column(customer::Column::PiiKey)
            .distinct()
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(keys.into_iter().flatten().collect())
    }
}
