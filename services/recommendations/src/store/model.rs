//! Published models: `model_versions`, `item_models` (neighbours and rules per item) and
//! `popular_lists` (per scope). A version is written whole, then becomes current by being the
//! highest version: serving never sees half a build. Serving reads by primary key only.
use super::entities::{item_model, model_version, popular_list};
use crate::domain::ItemId;
use crate::domain::model::{ItemModel, ModelInfo, Popular, Scope, Similarity};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TryInsertResult,
};
use std::collections::HashMap;

impl From<model_version::Model> for ModelInfo {
    fn from(r: model_version::Model) -> Self {
        Self {
            version: r.version,
            similarity: Similarity::parse(&r.similarity).unwrap_or_default(),
            build_time: r.build_time,
            build_duration_ms: r.build_duration_ms,
            interaction_count: r.interaction_count,
            customer_count: r.customer_count,
            item_count: r.item_count,
            last_interaction_time: r.last_interaction_record_time,
        }
    }
}

/// The current (highest) published version; None before the first build.
pub async fn current(conn: &impl ConnectionTrait) -> Result<Option<ModelInfo>, Error> {
    Ok(model_version::Entity::find()
        .order_by_desc(model_version::Column::Version)
        .one(conn)
        .await?
        .map(ModelInfo::from))
}

/// What `version` holds for each of `items` (items it has nothing for are absent).
pub async fn item_models(
    conn: &impl ConnectionTrait,
    version: i64,
    items: &[ItemId],
) -> Result<HashMap<ItemId, ItemModel>, Error> {
    if items.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = item_model::Entity::find()
        .filter(item_model::Column::Version.eq(version))
        .filter(item_model::Column::ItemId.is_in(items.iter().map(|i| i.0.clone())))
        .all(conn)
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let m = ItemModel {
            neighbours: serde_json::from_str(&r.neighbours).map_err(Error::internal)?,
            rules: serde_json::from_str(&r.rules).map_err(Error::internal)?,
        };
        out.insert(ItemId(r.item_id), m);
    }
    Ok(out)
}

/// The popularity list of `scope` in `version` (empty when the build made none).
pub async fn popular(
    conn: &impl ConnectionTrait,
    version: i64,
    scope: &Scope,
) -> Result<Vec<Popular>, Error> {
    let row = popular_list::Entity::find_by_id((version, scope.key()))
        .one(conn)
        .await?;
    match row {
        Some(r) => serde_json::from_str(&r.items).map_err(Error::internal),
        None => Ok(Vec::new()),
    }
}

// The write side (the rebuild). A build writes its rows under a version nobody has used
// yet, then the `model_versions` row: until that row exists, serving does not see them.

/// The version the next build writes: above every published version and every version a
/// build has claimed (an unpublished claim of a build that died is skipped, then pruned).
pub async fn next_version(conn: &impl ConnectionTrait) -> Result<i64, Error> {
    let published: Option<i64> = model_version::Entity::find()
        .select_only()
        .column_as(model_version::Column::Version.max(), "v")
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten();
    let claimed: Option<i64> = popular_list::Entity::find()
        .select_only()
        .column_as(popular_list::Column::Version.max(), "v")
        .into_tuple::<Option<i64>>()
        .one(conn)
        .await?
        .flatten();
    published
        .max(claimed)
        .unwrap_or(0)
        .checked_add(1)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("model version overflow")))
}

/// Claims `version` by writing its global popularity list first (the list's primary key is
/// the claim). False: another build (a replica) claimed it first, and this one must not
/// write under it.
pub async fn claim(
    conn: &impl ConnectionTrait,
    version: i64,
    global: &[Popular],
) -> Result<bool, Error> {
    let row = popular_list::ActiveModel {
        version: Set(version),
        scope: Set(Scope::All.key()),
        items: Set(serde_json::to_string(global).map_err(Error::internal)?),
    };
    let done = popular_list::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(done, TryInsertResult::Inserted(n) if n > 0))
}

/// Writes the neighbours and rules of `rows` under `version` (one statement).
pub async fn insert_item_models(
    conn: &impl ConnectionTrait,
    version: i64,
    rows: &[(ItemId, ItemModel)],
) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut models = Vec::with_capacity(rows.len());
    for (id, m) in rows {
        models.push(item_model::ActiveModel {
            version: Set(version),
            item_id: Set(id.0.clone()),
            neighbours: Set(serde_json::to_string(&m.neighbours).map_err(Error::internal)?),
            rules: Set(serde_json::to_string(&m.rules).map_err(Error::internal)?),
        });
    }
    item_model::Entity::insert_many(models)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Writes popularity lists (other than the global one, see [`claim`]) under `version`.
pub async fn insert_popular(
    conn: &impl ConnectionTrait,
    version: i64,
    lists: &[(Scope, Vec<Popular>)],
) -> Result<(), Error> {
    if lists.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(lists.len());
    for (scope, items) in lists {
        rows.push(popular_list::ActiveModel {
            version: Set(version),
            scope: Set(scope.key()),
            items: Set(serde_json::to_string(items).map_err(Error::internal)?),
        });
    }
    popular_list::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Publishes a version whose rows are written: from now on serving reads it. False: the
/// version row exists already (another build published this version).
pub async fn publish(conn: &impl ConnectionTrait, info: &ModelInfo) -> Result<bool, Error> {
    let row = model_version::ActiveModel {
        version: Set(info.version),
        similarity: Set(info.similarity.as_str().to_owned()),
        build_time: Set(info.build_time),
        build_duration_ms: Set(info.build_duration_ms),
        interaction_count: Set(info.interaction_count),
        customer_count: Set(info.customer_count),
        item_count: Set(info.item_count),
        last_interaction_record_time: Set(info.last_interaction_time),
    };
    let done = model_version::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(done, TryInsertResult::Inserted(n) if n > 0))
}

/// Deletes every version but the `keep` newest published ones: older versions and
/// claims below the newest published version that were never published (a build that
/// died). Claims above it (a build in progress) are left alone. Rows deleted.
pub async fn prune(conn: &impl ConnectionTrait, keep: u32) -> Result<u64, Error> {
    let kept: Vec<i64> = model_version::Entity::find()
        .select_only()
        .column(model_version::Column::Version)
        .order_by_desc(model_version::Column::Version)
        .limit(u64::from(keep.max(1)))
        .into_tuple::<i64>()
        .all(conn)
        .await?;
    let Some(&newest) = kept.first() else {
        return Ok(0);
    };
    let mut deleted = item_model::Entity::delete_many()
        .filter(item_model::Column::Version.lt(newest))
        .filter(item_model::Column::Version.is_not_in(kept.clone()))
        .exec(conn)
        .await?
        .rows_affected;
    deleted += popular_list::Entity::delete_many()
        .filter(popular_list::Column::Version.lt(newest))
        .filter(popular_list::Column::Version.is_not_in(kept.clone()))
        .exec(conn)
        .await?
        .rows_affected;
    deleted += model_version::Entity::delete_many()
        .filter(model_version::Column::Version.lt(newest))
        .filter(model_version::Column::Version.is_not_in(kept))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(deleted)
}
