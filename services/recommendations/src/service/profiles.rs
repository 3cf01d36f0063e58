//! The profile refresh job: customers' events carry no profile data, so the consumers mark
//! a customer's profile stale ([`super::events`]) and this job, when customers is
//! configured, takes at most `profiles.page` stale profiles per run (oldest first), asks
//! customers' GetCustomer for each (a few at a time, each call bounded by
//! `clients.timeout_ms`) and writes language, city and tags. A customer customers no longer
//! has (unknown, deleted, merged away, erased) is settled as is; a failed call puts the
//! profile at the back of the queue, still stale, so one bad customer never fails the run
//! or holds back the others. A write only lands if no event touched the row since it was
//! read (`store::profiles::fill`): the event's staleness wins, and the next run fetches
//! again.
use super::RecommendationService;
use crate::clients::ProfileAnswer;
use crate::domain::{CustomerId, now};
use crate::store::profiles::{self as store, StaleProfile};
use crm_platform::Error;
use crm_platform::jobs::Jobs;
use futures::StreamExt as _;
use std::time::Duration;

/// GetCustomer calls in flight at once per run.
const CONCURRENT_CALLS: usize = 8;

/// Starts the refresh job (when customers is configured).
pub fn start(svc: &RecommendationService, jobs: &mut Jobs) {
    if !svc.clients().customers_configured() {
        return;
    }
    let every = Duration::from_millis(svc.settings().profiles.refresh_interval_ms);
    jobs.every(every, "profile refresh", svc.clone(), |svc| async move {
        let run = svc.refresh_profiles().await?;
        if run.taken > 0 {
            tracing::debug!(
                filled = run.filled,
                gone = run.gone,
                failed = run.failed,
                "profiles refreshed"
            );
        }
        Ok(())
    });
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshRun {
    /// Stale profiles taken.
    pub taken: usize,
    /// Filled from customers (and written: not overtaken by an event).
    pub filled: usize,
    /// Customers no longer has the customer: settled as they were.
    pub gone: usize,
    /// The call failed: postponed, still stale.
    pub failed: usize,
}

impl RecommendationService {
    /// One run of the refresh job: at most `profiles.page` stale profiles.
    pub async fn refresh_profiles(&self) -> Result<RefreshRun, Error> {
        let page = u64::from(self.settings().profiles.page);
        let stale = store::stale_page(self.db(), page).await?;
        let clients = self.clients();
        let answers: Vec<(StaleProfile, ProfileAnswer)> = futures::stream::iter(stale)
            .map(|seen| async move { (seen, clients.profile(CustomerId(seen.customer)).await) })
            .buffer_unordered(CONCURRENT_CALLS)
            .collect()
            .await;
        let mut run = RefreshRun {
            taken: answers.len(),
            ..RefreshRun::default()
        };
        for (seen, answer) in answers {
            let now = now();
            match answer {
                ProfileAnswer::Found(p) => {
                    if store::fill(self.db(), seen, &p, now).await? {
                        run.filled += 1;
                    }
                }
                ProfileAnswer::Gone => {
                    store::settle(self.db(), seen, now).await?;
                    run.gone += 1;
                }
                ProfileAnswer::Failed => {
                    store::postpone(self.db(), seen, now).await?;
                    run.failed += 1;
                }
            }
        }
        Ok(run)
    }
}
