//! The transactional outbox: [`append`] writes an event in the caller's transaction, so it
//! exists exactly when the change it reports was committed; the relay reads it from here.
use super::envelope::Envelope;
use crate::Error;
use crate::jobs::Wake;
use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, Condition, DatabaseConnection, DbBackend, QueryOrder, QuerySelect,
};
use std::sync::LazyLock;
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_outbox")]
pub struct Model {
    /// Append order (the relay publishes in this order).
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub subject: String,
    pub time: ChronoDateTimeUtc,
    pub traceparent: String,
    pub schema_version: i32,
    pub content_type: String,
    #[sea_orm(column_type = "Blob")]
    pub payload: Vec<u8>,
    pub create_time: ChronoDateTimeUtc,
    pub sent_time: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn envelope(&self) -> Result<Envelope, Error> {
        Ok(Envelope {
            id: Uuid::parse_str(&self.id).map_err(Error::internal)?,
            source: self.source.clone(),
            event_type: self.event_type.clone(),
            subject: self.subject.clone(),
            time: self.time,
            traceparent: self.traceparent.clone(),
            schema_version: self.schema_version.try_into().map_err(Error::internal)?,
            content_type: self.content_type.clone(),
            payload: self.payload.clone(),
        })
    }
}

/// Writes `event` in `txn`, the transaction of the change it reports (nothing is published
/// before it commits, nothing if it rolls back). Append the events of one subject while
/// holding that subject's row (the write the event reports), so their order is their commit
/// order.
pub async fn append(txn: &impl ConnectionTrait, event: &Envelope) -> Result<(), Error> {
    append_all(txn, std::slice::from_ref(event)).await
}

/// Signalled by every append in this process: its relays look for the rows soon, even while
/// they poll slowly for lack of work (see [`crate::jobs::Jobs::polling`]).
pub fn appended() -> &'static Wake {
    static APPENDED: LazyLock<Wake> = LazyLock::new(Wake::default);
    &APPENDED
}

/// Writes several events in `txn`, in order, with one statement per 500.
pub async fn append_all(txn: &impl ConnectionTrait, events: &[Envelope]) -> Result<(), Error> {
    let now = Utc::now();
    for chunk in events.chunks(500) {
        let rows = chunk.iter().map(|e| ActiveModel {
            seq: sea_orm::ActiveValue::NotSet,
            id: Set(e.id.to_string()),
            source: Set(e.source.clone()),
            event_type: Set(e.event_type.clone()),
            subject: Set(e.subject.clone()),
            time: Set(e.time),
            traceparent: Set(e.traceparent.clone()),
            schema_version: Set(i32::try_from(e.schema_version).unwrap_or(i32::MAX)),
            content_type: Set(e.content_type.clone()),
            payload: Set(e.payload.clone()),
            create_time: Set(now),
            sent_time: Set(None),
        });
        Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    if !events.is_empty() {
        appended().signal();
    }
    Ok(())
}

/// Up to `limit` unsent rows in order, locked for this transaction on PostgreSQL (`FOR UPDATE
/// SKIP LOCKED`: rows another relay holds are passed over), keeping only those no other relay
/// could publish ahead of: for each subject, the run of its oldest unsent rows that this
/// call holds. A row whose older sibling is held elsewhere waits for the next call, so
/// several relays never reorder one subject. On SQLite (one relay) it is the plain head.
pub(super) async fn claim(txn: &impl ConnectionTrait, limit: u64) -> Result<Vec<Model>, Error> {
    let mut head = Entity::find()
        .filter(Column::SentTime.is_null())
        .order_by_asc(Column::Seq)
        .limit(limit);
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(head.all(txn).await?);
    }
    head = head.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    let mine = head.all(txn).await?;
    let Some(last) = mine.last().map(|m| m.seq) else {
        return Ok(mine);
    };
    let mut subjects: Vec<String> = mine.iter().map(|m| m.subject.clone()).collect();
    subjects.sort();
    subjects.dedup();
    // Every unsent row of these subjects up to our last one, held by us or not.
    let unsent: Vec<(i64, String)> = Entity::find()
        .select_only()
        .column(Column::Seq)
        .column(Column::Subject)
        .filter(Column::SentTime.is_null())
        .filter(Column::Seq.lte(last))
        .filter(Column::Subject.is_in(subjects))
        .order_by_asc(Column::Seq)
        .into_tuple()
        .all(txn)
        .await?;
    Ok(in_subject_order(mine, &unsent))
}

/// The rows of `mine` that begin their subject's unsent run in `unsent` (seq order).
fn in_subject_order(mine: Vec<Model>, unsent: &[(i64, String)]) -> Vec<Model> {
    let held: std::collections::HashSet<i64> = mine.iter().map(|m| m.seq).collect();
    let mut blocked = std::collections::HashSet::new();
    let mut publishable = std::collections::HashSet::new();
    for (seq, subject) in unsent {
        if blocked.contains(subject) {
            continue;
        }
        if held.contains(seq) {
            publishable.insert(*seq);
        } else {
            blocked.insert(subject.clone());
        }
    }
    mine.into_iter()
        .filter(|m| publishable.contains(&m.seq))
        .collect()
}

/// Marks published rows sent (same transaction as their claim on PostgreSQL).
pub(super) async fn mark_sent(txn: &impl ConnectionTrait, seqs: Vec<i64>) -> Result<(), Error> {
    Entity::update_many()
        .col_expr(Column::SentTime, Expr::value(Some(Utc::now())))
        .filter(Column::Seq.is_in(seqs))
        .exec(txn)
        .await?;
    Ok(())
}

/// Deletes up to `limit` rows sent more than `retention` ago; returns how many.
pub(super) async fn purge_sent(
    db: &DatabaseConnection,
    retention: Duration,
    limit: u64,
) -> Result<u64, Error> {
    let old = Condition::all().add(Column::SentTime.lt(super::retention::cutoff(retention)?));
    super::retention::delete_some::<Entity, i64>(db, Column::Seq, old, limit).await
}

/// How far the relay is behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxLag {
    /// Rows appended and not yet published.
    pub unsent: u64,
    /// Age of the oldest of them (zero when none).
    pub oldest_unsent_age: Duration,
}

/// The current lag of the outbox in `db`.
pub async fn lag(db: &impl ConnectionTrait) -> Result<OutboxLag, Error> {
    let unsent = Entity::find()
        .filter(Column::SentTime.is_null())
        .count(db)
        .await?;
    let oldest = Entity::find()
        .filter(Column::SentTime.is_null())
        .order_by_asc(Column::Seq)
        .one(db)
        .await?;
    Ok(OutboxLag {
        unsent,
        oldest_unsent_age: oldest
            .and_then(|m| (Utc::now() - m.create_time).to_std().ok())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, subject: &str) -> Model {
        let now = Utc::now();
        Model {
            seq,
            id: Uuid::now_v7().to_string(),
            source: "s".into(),
            event_type: "t".into(),
            subject: subject.into(),
            time: now,
            traceparent: String::new(),
            schema_version: 1,
            content_type: String::new(),
            payload: Vec::new(),
            create_time: now,
            sent_time: None,
        }
    }

    #[test]
    fn a_subject_whose_older_row_is_held_elsewhere_waits() {
        // Unsent: 1a (held by another relay), 2b, 3a, 4b, 5c; this relay holds 2, 3, 4, 5.
        let unsent: Vec<(i64, String)> = [(1, "a"), (2, "b"), (3, "a"), (4, "b"), (5, "c")]
            .into_iter()
            .map(|(s, x)| (s, x.to_owned()))
            .collect();
        let mine = vec![row(2, "b"), row(3, "a"), row(4, "b"), row(5, "c")];
        let kept: Vec<i64> = in_subject_order(mine, &unsent)
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(kept, [2, 4, 5], "3a must wait for 1a");
    }
}
