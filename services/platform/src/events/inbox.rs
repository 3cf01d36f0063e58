//! The inbox: which events a consumer has applied, written in the transaction of the
//! handler's effects, so an event delivered again is recognised and only acknowledged.
use crate::Error;
use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{Condition, DatabaseConnection};
use std::collections::HashSet;
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_inbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub consumer: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    pub process_time: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Records that `consumer` applies `event_id` in `txn`; false when it already had (or a
/// concurrent transaction of another replica has, once that one commits: the insert waits
/// for it on PostgreSQL).
pub async fn record(
    txn: &impl ConnectionTrait,
    consumer: &str,
    event_id: Uuid,
) -> Result<bool, Error> {
    Ok(record_all(txn, consumer, &[event_id])
        .await?
        .contains(&event_id))
}

/// Records that `consumer` applies each of `event_ids` in `txn`, with one statement; returns
/// the ids it had not recorded before (the events to apply; each once, copies included).
/// Rows go in in id order, so two replicas' batches wait on each other's rows in the same
/// order on PostgreSQL rather than deadlocking.
pub async fn record_all(
    txn: &impl ConnectionTrait,
    consumer: &str,
    event_ids: &[Uuid],
) -> Result<HashSet<Uuid>, Error> {
    let mut ids: Vec<Uuid> = event_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut fresh = HashSet::with_capacity(ids.len());
    let now = Utc::now();
    // 3 parameters a row: far below both backends' limits per statement.
    for chunk in ids.chunks(1000) {
        let mut insert = Query::insert();
        insert
            .into_table(Entity)
            .columns([Column::Consumer, Column::EventId, Column::ProcessTime])
            .on_conflict(
                OnConflict::columns([Column::Consumer, Column::EventId])
                    .do_nothing()
                    .to_owned(),
            )
            .returning_col(Column::EventId);
        for id in chunk {
            insert.values_panic([consumer.into(), id.to_string().into(), now.into()]);
        }
        for row in txn.query_all(&insert).await? {
            let id: String = row.try_get("", "event_id")?;
            fresh.insert(Uuid::parse_str(&id).map_err(Error::internal)?);
        }
    }
    Ok(fresh)
}

/// True when `consumer` has applied `event_id`.
pub async fn contains(
    db: &impl ConnectionTrait,
    consumer: &str,
    event_id: Uuid,
) -> Result<bool, Error> {
    Ok(
        Entity::find_by_id((consumer.to_owned(), event_id.to_string()))
            .one(db)
            .await?
            .is_some(),
    )
}

/// Deletes up to `limit` of `consumer`'s rows older than `retention`; returns how many.
pub(super) async fn purge(
    db: &DatabaseConnection,
    consumer: &str,
    retention: Duration,
    limit: u64,
) -> Result<u64, Error> {
    let old = Condition::all()
        .add(Column::Consumer.eq(consumer))
        .add(Column::ProcessTime.lt(super::retention::cutoff(retention)?));
    super::retention::delete_some::<Entity, String>(db, Column::EventId, old, limit).await
}
