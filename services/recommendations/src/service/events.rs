//! The consumers of customers' and loyalty's streams: group `recommendations.customers`
//! (activities -> interactions, profile changes, merges, erasures) and
//! `recommendations.loyalty` (tier changes). Each event's effects commit in the consumer's
//! transaction with its inbox row, so a redelivered event is only acknowledged; handlers
//! never call another service (what events do not carry, the profile, the refresh job asks
//! customers for, see [`super::profiles`]). An event that can never apply (a name that is
//! no customer's, an activity naming no valid item) is logged and skipped: retrying it
//! would not help. What each payload means: [`convert`].
//!
//! Out-of-order arrival (a retry, a second replica): interactions are keyed by event, so
//! any order records the same set; tier changes apply in arrival order (a late older one
//! wins until the next change); an activity of a loser delivered after its merge stays
//! under the loser's id (serving resolves nothing: the next merge or erasure of the
//! survivor does not see it) — customers names the survivor in activities recorded after a
//! merge, so only a redelivery straddling the merge can do that.
pub mod convert;

use super::RecommendationService;
use crate::domain::{CustomerId, now};
use crate::store;
use convert::Fact;
use crm_platform::Error;
use crm_platform::events::{Envelope, Events, Handler, payload_of};
use crm_platform::jobs::Jobs;
use crm_proto::events::types::{
    ACTIVITY_RECORDED, CUSTOMER_CREATED, CUSTOMER_ERASED, CUSTOMER_MERGED, CUSTOMER_UPDATED,
    TIER_CHANGED,
};
use sea_orm::DatabaseTransaction;

/// The producers recommendations reads and its groups' names (`recommendations.{name}`).
pub const CUSTOMERS: (&str, &str) = ("customers", "customers");
pub const LOYALTY: (&str, &str) = ("loyalty", "loyalty");

/// Starts the consumers.
pub fn start(svc: &RecommendationService, backbone: &Events, jobs: &mut Jobs) {
    let (producer, group) = CUSTOMERS;
    backbone.start_consumer(jobs, producer, group, CustomerFacts(svc.clone()));
    let (producer, group) = LOYALTY;
    backbone.start_consumer(jobs, producer, group, LoyaltyFacts(svc.clone()));
}

/// Group `recommendations.customers`.
pub struct CustomerFacts(pub RecommendationService);

/// Group `recommendations.loyalty`.
pub struct LoyaltyFacts(pub RecommendationService);

impl Handler for CustomerFacts {
    fn event_types(&self) -> &[&str] {
        &[
            ACTIVITY_RECORDED,
            CUSTOMER_CREATED,
            CUSTOMER_UPDATED,
            CUSTOMER_MERGED,
            CUSTOMER_ERASED,
        ]
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        apply_all(&self.0, txn, &[event]).await
    }

    async fn handle_batch(
        &self,
        txn: &DatabaseTransaction,
        events: &[&Envelope],
    ) -> Result<(), Error> {
        apply_all(&self.0, txn, events).await
    }
}

impl Handler for LoyaltyFacts {
    fn event_types(&self) -> &[&str] {
        &[TIER_CHANGED]
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        apply_all(&self.0, txn, &[event]).await
    }

    async fn handle_batch(
        &self,
        txn: &DatabaseTransaction,
        events: &[&Envelope],
    ) -> Result<(), Error> {
        apply_all(&self.0, txn, events).await
    }
}

/// Applies `events` in order; the interactions of consecutive activities are recorded with
/// one statement, any other fact alone between them (so a merge or erasure sees the
/// interactions of the activities before it).
async fn apply_all(
    svc: &RecommendationService,
    txn: &DatabaseTransaction,
    events: &[&Envelope],
) -> Result<(), Error> {
    let weights = &svc.settings().weights;
    let mut run = Vec::new();
    for event in events {
        match convert::fact(event, payload_of(event)?, weights) {
            Fact::Interactions(mut i) => run.append(&mut i),
            Fact::Skip(why) => {
                tracing::info!(event = %event.id, r#type = %event.event_type, subject = %event.subject, why, "event applies nothing to recommendations");
            }
            other => {
                record(txn, std::mem::take(&mut run)).await?;
                apply(svc, txn, event, other).await?;
            }
        }
    }
    record(txn, run).await
}

async fn record(
    txn: &DatabaseTransaction,
    interactions: Vec<crate::domain::Interaction>,
) -> Result<(), Error> {
    if !interactions.is_empty() {
        store::interactions::record(txn, &interactions, now()).await?;
    }
    Ok(())
}

/// One fact that is no interaction.
async fn apply(
    svc: &RecommendationService,
    txn: &DatabaseTransaction,
    event: &Envelope,
    fact: Fact,
) -> Result<(), Error> {
    let now = now();
    match fact {
        Fact::ProfileChanged(c) => store::profiles::mark_stale(txn, c.0, now).await,
        Fact::Tier { customer, tier } => {
            store::profiles::set_tier(txn, customer.0, &tier, now).await
        }
        Fact::Merged { survivor, losers } => {
            let moved = store::interactions::move_to(txn, &losers, survivor).await?;
            let ids: Vec<uuid::Uuid> = losers.iter().map(|l| l.0).collect();
            store::profiles::merge_into(txn, &ids, survivor.0, now).await?;
            store::served_customers::move_to(txn, &losers, survivor).await?;
            tracing::info!(survivor = %survivor.name(), losers = losers.len(), interactions = moved, "merged customers' interactions moved");
            Ok(())
        }
        Fact::Erased { customer, whose } => erase(svc, txn, event, &customer, &whose).await,
        Fact::Interactions(_) | Fact::Skip(_) => Ok(()),
    }
}

/// Removes everything recommendations holds of `whose` (interactions, served answers and
/// their feedback, profiles), then answers the erasure with ErasureCompleted in the same
/// transaction. A repeat (a second erasure event) finds nothing and answers with 0.
async fn erase(
    svc: &RecommendationService,
    txn: &DatabaseTransaction,
    event: &Envelope,
    customer: &str,
    whose: &[CustomerId],
) -> Result<(), Error> {
    let interactions = store::interactions::delete_of(txn, whose).await?;
    let served = store::served_customers::delete_of(txn, whose).await?;
    store::served_customers::mark_erased(txn, whose, now()).await?;
    let ids: Vec<uuid::Uuid> = whose.iter().map(|c| c.0).collect();
    let profiles = store::profiles::delete_of(txn, &ids).await?;
    let scrubbed = interactions.saturating_add(served).saturating_add(profiles);
    let done = convert::erasure_completed(customer, &event.id.to_string(), scrubbed, now());
    svc.events().append(txn, customer, vec![done]).await?;
    tracing::info!(
        customer,
        interactions,
        served,
        profiles,
        "erased customer removed from recommendations"
    );
    Ok(())
}
