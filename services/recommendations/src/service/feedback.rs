//! RecordFeedback: outcomes (shown, clicked, converted) attributed to the items of a served
//! answer, each item and kind once per answer, once per request id. (The purge of served
//! answers is serving's job, see `serving::start`.)
use super::RecommendationService;
use crate::domain::serving::{Feedback, FeedbackCounts};
use crate::error::recommendation_not_found;
use crate::store;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::mutation::Mutation;
use crm_platform::{Error, Violations};

impl RecommendationService {
    /// Records the outcome for the items of `f` (all of the answer, else INVALID_ARGUMENT
    /// and nothing written; an unknown or purged answer is NOT_FOUND) and returns the
    /// answer's totals.
    pub async fn record_feedback(
        &self,
        key: &IdempotencyKey,
        f: &Feedback,
    ) -> Result<FeedbackCounts, Error> {
        self.settle_served(f.recommendation).await?;
        let txn = match self.core().writes.begin::<FeedbackCounts>(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let served = store::served::find(&txn, f.recommendation)
            .await?
            .ok_or_else(|| recommendation_not_found(f.recommendation))?;
        let mut v = Violations::new();
        for (i, item) in f.items.iter().enumerate() {
            if !served.items.contains(item) {
                v.add(
                    format!("items[{i}]"),
                    format!(
                        "{} is not an item of {}",
                        item.name(),
                        f.recommendation.name()
                    ),
                );
            }
        }
        let at = f.occur_time.unwrap_or_else(crate::domain::now);
        if at < served.create_time {
            v.add("occur_time", "must not be before the recommendation");
        }
        v.into_result()?;
        let recorded =
            store::served::record_feedback(&txn, f.recommendation, &f.items, f.kind, at).await?;
        let counts = FeedbackCounts {
            recorded,
            ..store::served::counts(&txn, f.recommendation).await?
        };
        self.core()
            .writes
            .commit(txn, key, Mutation::new(f.recommendation.name(), counts))
            .await
    }
}
