//! What a build reads, page by page so no query returns more than one page: interactions
//! newest first (by id: ids are UUIDv7, so id order is recording order), the catalogue's
//! categories and tags, and the profiles' cohort attributes. Also the count of interactions
//! recorded since a build (GetModel).
use super::entities::{interaction, item, profile};
use crate::domain::profile::Profile;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// The columns of an interaction the build uses.
#[derive(Debug, Clone, FromQueryResult)]
pub struct InteractionRow {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub item_id: String,
    pub kind: i16,
    pub weight: f64,
    pub basket_id: String,
    pub occur_time: DateTime<Utc>,
    pub record_time: DateTime<Utc>,
}

/// At most `limit` interactions recorded before `before` (all when None), newest first.
pub async fn interactions_before(
    conn: &impl ConnectionTrait,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<InteractionRow>, Error> {
    let mut q = interaction::Entity::find()
        .select_only()
        .columns([
            interaction::Column::Id,
            interaction::Column::CustomerId,
            interaction::Column::ItemId,
            interaction::Column::Kind,
            interaction::Column::Weight,
            interaction::Column::BasketId,
            interaction::Column::OccurTime,
            interaction::Column::RecordTime,
        ])
        .order_by_desc(interaction::Column::Id)
        .limit(limit);
    if let Some(id) = before {
        q = q.filter(interaction::Column::Id.lt(id));
    }
    Ok(q.into_model::<InteractionRow>().all(conn).await?)
}

/// Interactions recorded after `since` (all when None).
pub async fn recorded_after(
    conn: &impl ConnectionTrait,
    since: Option<DateTime<Utc>>,
) -> Result<u64, Error> {
    let mut q = interaction::Entity::find();
    if let Some(t) = since {
        q = q.filter(interaction::Column::RecordTime.gt(t));
    }
    Ok(q.count(conn).await?)
}

/// An item's category path and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub id: String,
    pub category: String,
    pub tags: Vec<String>,
}

#[derive(FromQueryResult)]
struct DescribedRow {
    id: String,
    category: String,
    tags: String,
}

/// At most `limit` catalogue items after `after` (from the first when None), in id order.
pub async fn items_after(
    conn: &impl ConnectionTrait,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Described>, Error> {
    let mut q = item::Entity::find()
        .select_only()
        .columns([item::Column::Id, item::Column::Category, item::Column::Tags])
        .order_by_asc(item::Column::Id)
        .limit(limit);
    if let Some(id) = after {
        q = q.filter(item::Column::Id.gt(id));
    }
    let rows = q.into_model::<DescribedRow>().all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|r| Described {
            // Tags are written by the catalogue as a JSON array; anything else reads as none.
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
            id: r.id,
            category: r.category,
        })
        .collect())
}

/// At most `limit` profiles after `after`, in customer order, with what cohorts need.
pub async fn profiles_after(
    conn: &impl ConnectionTrait,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<(Uuid, Profile)>, Error> {
    let mut q = profile::Entity::find()
        .select_only()
        .columns([
            profile::Column::CustomerId,
            profile::Column::LanguageCode,
            profile::Column::City,
            profile::Column::Tier,
        ])
        .order_by_asc(profile::Column::CustomerId)
        .limit(limit);
    if let Some(id) = after {
        q = q.filter(profile::Column::CustomerId.gt(id));
    }
    let rows: Vec<(Uuid, String, String, String)> = q.into_tuple().all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(id, language, city, tier)| {
            (
                id,
                Profile {
                    language,
                    city,
                    tier,
                    tags: Vec::new(),
                },
            )
        })
        .collect())
}
