//! The `items` table: rows <-> domain items, the catalogue's queries, and the batch read
//! serving uses for the catalogue rows of its candidates.
use super::entities::deleted_item;
use super::entities::item::{ActiveModel, Column, Entity, Model};
use crate::domain::{Availability, Item, ItemFields, ItemId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{LikeExpr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{HashMap, HashSet};

/// Ids read per query by [`items_by_ids`] (keeps the IN list well below every backend's
/// bind-parameter limit).
const IDS_PER_QUERY: usize = 500;

fn corrupt(id: &str, what: &str) -> Error {
    Error::internal(anyhow::anyhow!("item {id} has an unreadable {what}"))
}

impl TryFrom<Model> for Item {
    type Error = Error;

    fn try_from(r: Model) -> Result<Self, Error> {
        let fields = ItemFields {
            title: r.title,
            category: r.category,
            tags: serde_json::from_str(&r.tags).map_err(|_| corrupt(&r.id, "tags"))?,
            attributes: serde_json::from_str(&r.attributes)
                .map_err(|_| corrupt(&r.id, "attributes"))?,
            numeric_attributes: serde_json::from_str(&r.numeric_attributes)
                .map_err(|_| corrupt(&r.id, "numeric_attributes"))?,
            availability: Availability::from_code(r.availability),
            bookable_from: r.bookable_from,
            bookable_until: r.bookable_until,
        };
        Ok(Self {
            id: ItemId(r.id),
            fields,
            revision: r.revision,
            create_time: r.create_time,
            update_time: r.update_time,
        })
    }
}

fn active(i: &Item) -> Result<ActiveModel, Error> {
    let f = &i.fields;
    Ok(ActiveModel {
        id: Set(i.id.0.clone()),
        title: Set(f.title.clone()),
        category: Set(f.category.clone()),
        tags: Set(serde_json::to_string(&f.tags).map_err(Error::internal)?),
        attributes: Set(serde_json::to_string(&f.attributes).map_err(Error::internal)?),
        numeric_attributes: Set(
            serde_json::to_string(&f.numeric_attributes).map_err(Error::internal)?
        ),
        availability: Set(f.availability.code()),
        bookable_from: Set(f.bookable_from),
        bookable_until: Set(f.bookable_until),
        revision: Set(i.revision),
        create_time: Set(i.create_time),
        update_time: Set(i.update_time),
    })
}

pub async fn find(conn: &impl ConnectionTrait, id: &ItemId) -> Result<Option<Item>, Error> {
    Entity::find_by_id(id.0.clone())
        .one(conn)
        .await?
        .map(Item::try_from)
        .transpose()
}

/// The catalogue rows of `ids` (ids the catalogue does not hold, or deleted, are absent).
/// Reads in chunks, so a long candidate list is several short queries.
pub async fn items_by_ids(
    conn: &impl ConnectionTrait,
    ids: &[ItemId],
) -> Result<HashMap<ItemId, Item>, Error> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let rows = Entity::find()
            .filter(Column::Id.is_in(chunk.iter().map(|i| i.0.clone())))
            .all(conn)
            .await?;
        for r in rows {
            let item = Item::try_from(r)?;
            out.insert(item.id.clone(), item);
        }
    }
    Ok(out)
}

pub async fn insert(conn: &impl ConnectionTrait, i: &Item) -> Result<(), Error> {
    Entity::insert(active(i)?)
        .exec_without_returning(conn)
        .await?;
    undelete(conn, &i.id).await
}

/// Writes `i` if its stored revision is still `i.revision - 1` (compare-and-set); false when
/// a concurrent writer got there first (or the item is gone).
pub async fn update(conn: &impl ConnectionTrait, i: &Item) -> Result<bool, Error> {
    let res = Entity::update_many()
        .set(active(i)?)
        .filter(Column::Id.eq(i.id.0.clone()))
        .filter(Column::Revision.eq(i.revision - 1))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes `id` at `revision`, leaving a tombstone; false when it changed or is gone.
pub async fn delete(
    conn: &impl ConnectionTrait,
    id: &ItemId,
    revision: i64,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let res = Entity::delete_many()
        .filter(Column::Id.eq(id.0.clone()))
        .filter(Column::Revision.eq(revision))
        .exec(conn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(false);
    }
    deleted_item::Entity::insert(deleted_item::ActiveModel {
        id: Set(id.0.clone()),
        delete_time: Set(now),
    })
    .on_conflict(
        OnConflict::column(deleted_item::Column::Id)
            .update_column(deleted_item::Column::DeleteTime)
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(true)
}

/// Up to `limit` items after `after` in id order, in `category` or below ("" all).
pub async fn list(
    conn: &impl ConnectionTrait,
    category: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Item>, Error> {
    let mut q = Entity::find();
    if let Some(a) = after {
        q = q.filter(Column::Id.gt(a));
    }
    if !category.is_empty() {
        // The path itself or below it: "a/b" or "a/b/...". `_` is a LIKE wildcard and may
        // be in a path, so it is escaped.
        let below = format!("{}/%", category.replace('_', "\\_"));
        q = q.filter(
            sea_orm::Condition::any()
                .add(Column::Category.eq(category))
                .add(Column::Category.like(LikeExpr::new(below).escape('\\'))),
        );
    }
    q.order_by_asc(Column::Id)
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(Item::try_from)
        .collect()
}

/// Inserts `i` unless its id is taken (by a concurrent writer too); false when taken.
pub async fn insert_new(conn: &impl ConnectionTrait, i: &Item) -> Result<bool, Error> {
    let res = Entity::insert(active(i)?)
        .on_conflict_do_nothing_on([Column::Id])
        .exec_without_returning(conn)
        .await?;
    let inserted = matches!(res, sea_orm::TryInsertResult::Inserted(n) if n > 0);
    if inserted {
        undelete(conn, &i.id).await?;
    }
    Ok(inserted)
}

/// A deleted item catalogued again is served again.
async fn undelete(conn: &impl ConnectionTrait, id: &ItemId) -> Result<(), Error> {
    deleted_item::Entity::delete_by_id(id.0.clone())
        .exec(conn)
        .await?;
    Ok(())
}

/// Which of `ids` were deleted from the catalogue (and not catalogued again): serving drops
/// them from lists a model built before the delete still holds.
pub async fn deleted_among(
    conn: &impl ConnectionTrait,
    ids: &[ItemId],
) -> Result<HashSet<ItemId>, Error> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let rows: Vec<String> = deleted_item::Entity::find()
            .select_only()
            .column(deleted_item::Column::Id)
            .filter(deleted_item::Column::Id.is_in(chunk.iter().map(|i| i.0.clone())))
            .into_tuple()
            .all(conn)
            .await?;
        out.extend(rows.into_iter().map(ItemId));
    }
    Ok(out)
}
