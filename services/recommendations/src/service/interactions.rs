//! RecordInteractions: interactions sent directly (a clickstream, a booking engine), written
//! together or not at all, each once by its interaction_id.
use super::RecommendationService;
use crate::domain::interaction::NewInteraction;
use crate::domain::{self, Interaction};
use crate::store::interactions as store;
use crm_platform::Error;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::mutation::Mutation;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// What RecordInteractions answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Newly recorded.
    pub recorded: u64,
    /// Recorded before (by an earlier call, or earlier in this one).
    pub duplicates: u64,
}

impl RecommendationService {
    /// Records `new` (checked by the adapter) in one transaction.
    pub async fn record_interactions(
        &self,
        key: &IdempotencyKey,
        new: Vec<NewInteraction>,
    ) -> Result<Recorded, Error> {
        let total = new.len() as u64;
        let weights = &self.settings().weights;
        // A repeat inside the call is a duplicate of its first occurrence.
        let mut seen = HashSet::with_capacity(new.len());
        let rows: Vec<Interaction> = new
            .into_iter()
            .filter(|n| seen.insert(n.interaction_id.clone()))
            .map(|n| n.into_interaction(weights))
            .collect();
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let recorded = store::record(&txn, &rows, domain::now()).await?;
        let answer = Recorded {
            recorded,
            duplicates: total.saturating_sub(recorded),
        };
        self.core()
            .writes
            .commit(txn, key, Mutation::new("interactions", answer))
            .await
    }
}
