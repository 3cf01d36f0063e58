//! Erasures and the completions other services report for them.
use super::entities::{erasure, erasure_completion as completion};
use crate::domain::CustomerId;
use crate::domain::erasure::Completion;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TryInsertResult,
};
use uuid::Uuid;

/// Records that `customer` was erased by the CustomerErased event `event_id` (in the
/// erasure's transaction).
pub async fn record_erasure(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    event_id: Uuid,
    erase_time: DateTime<Utc>,
) -> Result<(), Error> {
    erasure::Entity::insert(erasure::ActiveModel {
        customer_id: Set(customer.0),
        erasure_event_id: Set(event_id),
        erase_time: Set(erase_time),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The CustomerErased event id and time of `customer`'s erasure, if one was recorded.
pub async fn find_erasure(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
) -> Result<Option<(Uuid, DateTime<Utc>)>, Error> {
    Ok(erasure::Entity::find_by_id(customer.0)
        .one(conn)
        .await?
        .map(|r| (r.erasure_event_id, r.erase_time)))
}

/// Stores `c` unless its service reported this customer already (the first report stays);
/// true when stored.
pub async fn add_completion(
    conn: &impl ConnectionTrait,
    c: &Completion,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let row = completion::ActiveModel {
        customer_id: Set(c.customer.0),
        service: Set(c.service.clone()),
        erasure_event_id: Set(c.erasure_event_id),
        completion_event_id: Set(c.event_id),
        complete_time: Set(c.complete_time),
        scrubbed_records: Set(c.scrubbed_records),
        record_time: Set(now),
    };
    let inserted = completion::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(n) if n > 0))
}

/// The completions of `customer` reported by `services` (one row each at most, so the read
/// is bounded by the list).
pub async fn completions(
    conn: &impl ConnectionTrait,
    customer: CustomerId,
    services: &[String],
) -> Result<Vec<Completion>, Error> {
    if services.is_empty() {
        return Ok(Vec::new());
    }
    Ok(completion::Entity::find()
        .filter(completion::Column::CustomerId.eq(customer.0))
        .filter(completion::Column::Service.is_in(services.to_vec()))
        .limit(services.len() as u64)
        .all(conn)
        .await?
        .into_iter()
        .map(|r| Completion {
            customer: CustomerId(r.customer_id),
            service: r.service,
            erasure_event_id: r.erasure_event_id,
            event_id: r.completion_event_id,
            complete_time: r.complete_time,
            scrubbed_records: r.scrubbed_records,
        })
        .collect())
}
