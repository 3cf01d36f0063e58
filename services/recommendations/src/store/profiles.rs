//! The `profiles` table: what cold start knows of a customer (rows <-> [`Profile`]). Events
//! write it (customers' created/updated/merged/erased, loyalty's tier changes); the refresh
//! job fills stale rows from customers; serving reads one row per call.
use super::entities::profile::{ActiveModel, Column, Entity, Model};
use crate::domain::profile::Profile;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

impl From<Model> for Profile {
    fn from(r: Model) -> Self {
        Self {
            language: r.language_code,
            city: r.city,
            tier: r.tier,
            // A row written by this module always holds a JSON array; anything else is
            // treated as no tags rather than failing a recommendation.
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
        }
    }
}

/// The customer's profile, if recommendations knows one.
pub async fn get(conn: &impl ConnectionTrait, customer: Uuid) -> Result<Option<Profile>, Error> {
    Ok(Entity::find_by_id(customer)
        .one(conn)
        .await?
        .map(Profile::from))
}

/// Writes the whole profile; `stale` says whether the refresh job should ask customers again.
pub async fn put(
    conn: &impl ConnectionTrait,
    customer: Uuid,
    p: &Profile,
    stale: bool,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let row = ActiveModel {
        customer_id: Set(customer),
        language_code: Set(p.language.clone()),
        city: Set(p.city.clone()),
        tier: Set(p.tier.clone()),
        tags: Set(serde_json::to_string(&p.tags).map_err(Error::internal)?),
        stale: Set(stale),
        update_time: Set(now),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::CustomerId)
                .update_columns([
                    Column::LanguageCode,
                    Column::City,
                    Column::Tier,
                    Column::Tags,
                    Column::Stale,
                    Column::UpdateTime,
                ])
                .to_owned(),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes the customer's profile (erasure, or the merged-away side of a merge).
pub async fn delete(conn: &impl ConnectionTrait, customer: Uuid) -> Result<(), Error> {
    Entity::delete_by_id(customer).exec(conn).await?;
    Ok(())
}

/// At most `limit` customers whose profile the refresh job should fetch, oldest first.
pub async fn stale(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<Uuid>, Error> {
    Ok(Entity::find()
        .select_only()
        .column(Column::CustomerId)
        .filter(Column::Stale.eq(true))
        .order_by_asc(Column::UpdateTime)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?)
}
