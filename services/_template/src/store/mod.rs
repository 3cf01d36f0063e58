//! Persistence: the sea-orm entities (one module per table, with their row <-> domain
//! conversions) and the queries the use cases need. The only module that knows SQL.
pub mod note;

use crate::domain::{Note, NoteId};
use crm_platform::Error;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

pub async fn find(conn: &impl ConnectionTrait, id: NoteId) -> Result<Option<Note>, Error> {
    Ok(note::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .map(Note::from))
}

pub async fn insert(conn: &impl ConnectionTrait, n: &Note) -> Result<(), Error> {
    note::Entity::insert(note::ActiveModel::from(n))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Writes `n` if its stored revision is still `n.revision - 1` (compare-and-set); false when
/// a concurrent writer got there first.
pub async fn update(conn: &impl ConnectionTrait, n: &Note) -> Result<bool, Error> {
    let res = note::Entity::update_many()
        .set(note::ActiveModel::from(n))
        .filter(note::Column::Id.eq(n.id.0))
        .filter(note::Column::Revision.eq(n.revision - 1))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes the note if it is still at `revision`; false when it changed or is gone.
pub async fn delete(conn: &impl ConnectionTrait, id: NoteId, revision: i64) -> Result<bool, Error> {
    let res = note::Entity::delete_many()
        .filter(note::Column::Id.eq(id.0))
        .filter(note::Column::Revision.eq(revision))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Up to `limit` notes after `after` in id order: ids are UUIDv7, so this is creation order,
/// read as one range of the primary key.
pub async fn list(
    conn: &impl ConnectionTrait,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Note>, Error> {
    let mut q = note::Entity::find();
    if let Some(a) = after {
        q = q.filter(note::Column::Id.gt(a));
    }
    let rows = q
        .order_by_asc(note::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(Note::from).collect())
}
