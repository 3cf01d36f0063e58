//! Bounded deletes of rows past their retention (sent outbox rows, old inbox rows).
use crate::Error;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait as _, Condition, DatabaseConnection, EntityTrait, QueryFilter as _,
    QuerySelect as _, TryGetableMany, Value,
};
use std::time::Duration;

/// The time `retention` ago.
pub(super) fn cutoff(retention: Duration) -> Result<DateTime<Utc>, Error> {
    Ok(Utc::now() - chrono::Duration::from_std(retention).map_err(Error::internal)?)
}

/// Deletes up to `limit` rows of `E` matching `old`, found by their `key` column (one
/// bounded select, one delete); returns how many.
pub(super) async fn delete_some<E, K>(
    db: &DatabaseConnection,
    key: E::Column,
    old: Condition,
    limit: u64,
) -> Result<u64, Error>
where
    E: EntityTrait,
    K: TryGetableMany + Into<Value> + Send,
{
    let keys: Vec<K> = E::find()
        .select_only()
        .column(key)
        .filter(old.clone())
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if keys.is_empty() {
        return Ok(0);
    }
    Ok(E::delete_many()
        .filter(old)
        .filter(key.is_in(keys))
        .exec(db)
        .await?
        .rows_affected)
}
