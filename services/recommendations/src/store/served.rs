//! The `recommendations` and `feedback` tables: served answers (one row per answer, for
//! RecordFeedback's attribution), the outcomes attributed to them (one row per
//! recommendation, item and kind) and the purge of answers past their retention.
use super::entities::{feedback, recommendation};
use crate::domain::serving::{FeedbackCounts, FeedbackKind, Method, Served};
use crate::domain::{CustomerId, ItemId, RecommendationId};
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TryInsertResult,
};
use uuid::Uuid;

/// Answers deleted per statement by [`purge_before`].
const PURGE_BATCH: u64 = 500;

/// Inserts answers (one statement; the served log's batches).
pub async fn insert_all(conn: &impl ConnectionTrait, answers: &[Served]) -> Result<(), Error> {
    if answers.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(answers.len());
    for s in answers {
        let items: Vec<&str> = s.items.iter().map(ItemId::as_str).collect();
        rows.push(recommendation::ActiveModel {
            id: Set(s.id.0),
            customer_id: Set(s.customer.map(|c| c.0)),
            method: Set(s.method.as_str().to_owned()),
            scenario: Set(s.scenario.clone()),
            items: Set(serde_json::to_string(&items).map_err(Error::internal)?),
            model_version: Set(s.model_version),
            create_time: Set(s.create_time),
        });
    }
    // A batch written again after a failure whose commit did land inserts nothing twice.
    recommendation::Entity::insert_many(rows)
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub async fn find(
    conn: &impl ConnectionTrait,
    id: RecommendationId,
) -> Result<Option<Served>, Error> {
    let Some(r) = recommendation::Entity::find_by_id(id.0).one(conn).await? else {
        return Ok(None);
    };
    let items: Vec<String> = serde_json::from_str(&r.items).map_err(Error::internal)?;
    let method = Method::parse(&r.method).ok_or_else(|| {
        Error::internal(anyhow::anyhow!(
            "recommendation {} has method {}",
            r.id,
            r.method
        ))
    })?;
    Ok(Some(Served {
        id,
        customer: r.customer_id.map(CustomerId),
        method,
        scenario: r.scenario,
        items: items.into_iter().map(ItemId).collect(),
        model_version: r.model_version,
        create_time: r.create_time,
    }))
}

/// Records `kind` for each of `items` of `recommendation` (an item and kind recorded before
/// is skipped); returns how many were new.
pub async fn record_feedback(
    conn: &impl ConnectionTrait,
    recommendation: RecommendationId,
    items: &[ItemId],
    kind: FeedbackKind,
    at: DateTime<Utc>,
) -> Result<u64, Error> {
    if items.is_empty() {
        return Ok(0);
    }
    let rows = items.iter().map(|i| feedback::ActiveModel {
        recommendation_id: Set(recommendation.0),
        item_id: Set(i.0.clone()),
        kind: Set(kind.code()),
        occur_time: Set(at),
    });
    let done = feedback::Entity::insert_many(rows)
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    Ok(match done {
        TryInsertResult::Inserted(n) => n,
        _ => 0,
    })
}

/// The outcomes of a recommendation (at most its items x 3 rows).
pub async fn counts(
    conn: &impl ConnectionTrait,
    recommendation: RecommendationId,
) -> Result<FeedbackCounts, Error> {
    let kinds: Vec<i16> = feedback::Entity::find()
        .select_only()
        .column(feedback::Column::Kind)
        .filter(feedback::Column::RecommendationId.eq(recommendation.0))
        .into_tuple()
        .all(conn)
        .await?;
    let mut c = FeedbackCounts::default();
    for k in kinds {
        match FeedbackKind::from_code(i32::from(k)) {
            Some(FeedbackKind::Shown) => c.shown += 1,
            Some(FeedbackKind::Clicked) => c.clicked += 1,
            Some(FeedbackKind::Converted) => c.converted += 1,
            None => {}
        }
    }
    Ok(c)
}

/// Deletes up to one batch of answers created before `cutoff`, with their feedback; returns
/// how many answers (fewer than the batch: nothing older is left).
pub async fn purge_batch(conn: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64, Error> {
    let ids: Vec<Uuid> = recommendation::Entity::find()
        .select_only()
        .column(recommendation::Column::Id)
        .filter(recommendation::Column::CreateTime.lt(cutoff))
        .order_by_asc(recommendation::Column::CreateTime)
        .limit(PURGE_BATCH)
        .into_tuple()
        .all(conn)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    feedback::Entity::delete_many()
        .filter(feedback::Column::RecommendationId.is_in(ids.clone()))
        .exec(conn)
        .await?;
    let n = recommendation::Entity::delete_many()
        .filter(recommendation::Column::Id.is_in(ids))
        .exec(conn)
        .await?
        .rows_affected;
    Ok(n)
}

/// Whether one more batch may be left after a batch that deleted `n`.
pub fn more_after(n: u64) -> bool {
    n >= PURGE_BATCH
}
