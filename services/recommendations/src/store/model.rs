//! Published models: `model_versions`, `item_models` (neighbours and rules per item) and
//! `popular_lists` (per scope). A version is written whole, then becomes current by being the
//! highest version: serving never sees half a build. Serving reads by primary key only.
use super::entities::{item_model, model_version, popular_list};
use crate::domain::ItemId;
use crate::domain::model::{ItemModel, ModelInfo, Popular, Scope, Similarity};
use crm_platform::Error;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
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
