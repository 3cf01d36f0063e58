//! A customer's erasure in campaigns: every read-model row of the customer and of those
//! merged into it is deleted, queued messages to them dropped and their segment memberships
//! removed, then ErasureCompleted (service "campaigns") answers the erasure, in the same
//! transaction. A repeat finds nothing and answers again with 0 records.
use crate::domain::{CustomerId, now};
use crate::events::SERVICE;
use crate::service::CampaignService;
use crate::store::members as store;
use crm_platform::Error;
use crm_platform::validate::to_timestamp;
use crm_proto::events::{self as ev, event::Payload};
use sea_orm::DatabaseTransaction;

pub async fn erase(
    svc: &CampaignService,
    txn: &DatabaseTransaction,
    whose: &[CustomerId],
    erased: &str,
    erasure_event_id: &str,
) -> Result<u64, Error> {
    // Out of every tracked segment first, so the segments' member counts stay right.
    for id in whose {
        crate::store::segments::forget_member(txn, id.0).await?;
    }
    let scrubbed = store::erase(txn, whose).await?;
    let completed = Payload::ErasureCompleted(ev::ErasureCompleted {
        service: SERVICE.to_owned(),
        customer: erased.to_owned(),
        erasure_event_id: erasure_event_id.to_owned(),
        complete_time: Some(to_timestamp(now())),
        scrubbed_records: i64::try_from(scrubbed).unwrap_or(i64::MAX),
    });
    svc.events().append(txn, erased, vec![completed]).await?;
    tracing::info!(
        customer = erased,
        scrubbed,
        "erased customer removed from the read model"
    );
    Ok(scrubbed)
}
