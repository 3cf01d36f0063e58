//! Experiments (README "Experiments"): the winner job. A running test-then-winner campaign
//! whose test duration has passed and whose whole audience is written gets its winner
//! (domain::experiment::pick_winner over the test's counts), stored on the campaign, and
//! the deliveries awaiting it become pending with that variant, in one transaction. The
//! campaign's write is a compare-and-set on its revision, so with several replicas the
//! winner is chosen once.
use super::CampaignService;
use crate::domain::campaign::{Campaign, GoalKind};
use crate::domain::experiment::{self, Experiment};
use crate::domain::{self, CampaignId};
use crate::store;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::jobs::Jobs;
use sea_orm::TransactionTrait;
use std::time::Duration;

/// Running campaigns read per page while looking for experiments.
const CAMPAIGNS_PER_PAGE: u64 = 100;

/// Starts the winner job.
pub fn start(svc: &CampaignService, jobs: &mut Jobs) {
    jobs.every(
        Duration::from_millis(svc.settings().experiments.winner_interval_ms),
        "experiment winner",
        svc.clone(),
        |svc| async move { svc.choose_winners().await.map(|_| ()) },
    );
}

impl CampaignService {
    /// Chooses the winner of every running experiment whose test is over; returns how many
    /// were chosen. The running campaigns are read a page at a time.
    pub async fn choose_winners(&self) -> Result<u64, Error> {
        let mut chosen = 0;
        let mut pages = store::campaigns::RunningPages::new(CAMPAIGNS_PER_PAGE);
        while let Some(page) = pages.next(self.db()).await? {
            let now = domain::now();
            for c in &page {
                if let Some(e) = test_over(c, now)
                    && self.choose_winner(c, e, now).await?
                {
                    chosen += 1;
                }
            }
        }
        Ok(chosen)
    }

    /// Chooses `c`'s winner and releases the rest to it; false when the test deliveries are
    /// still due or the campaign changed meanwhile (the next run sees it again).
    async fn choose_winner(
        &self,
        c: &Campaign,
        e: &Experiment,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let db = self.db();
        let rows = store::deliveries::test_counts(db, c.id).await?;
        let converted = match c.fields.spec.goal.kind {
            GoalKind::Click => None,
            GoalKind::Purchase | GoalKind::Booking => {
                Some(store::conversions::converted_by_variant(db, c.id).await?)
            }
        };
        let variants = c.fields.spec.variants.iter().map(|v| v.id.as_str());
        let counts = experiment::tally(variants, &rows, converted.as_deref());
        let Some(winner) = experiment::winner_to_release(&counts, &rows, e.metric) else {
            return Ok(false);
        };
        let mut next = c.clone();
        next.winner = Some((winner.clone(), now));
        next.revision += 1;
        next.update_time = now;
        let txn = db.begin().await?;
        if !store::campaigns::update(&txn, &next).await? {
            // Another replica chose it, or the campaign moved: nothing is released here.
            return Ok(false);
        }
        let released = store::deliveries::release_awaiting(&txn, c.id, &winner, now).await?;
        txn.commit().await?;
        log_winner(c.id, &winner, &counts, released);
        Ok(true)
    }
}

/// `c`'s experiment when it still needs a winner and its test is over: started long enough
/// ago, and its audience (so its test share) written in full.
fn test_over(c: &Campaign, now: DateTime<Utc>) -> Option<&Experiment> {
    let e = c.fields.spec.experiment.as_ref()?;
    let start = c.start_time?;
    (c.winner.is_none() && c.audience_done && e.is_over(start, now)).then_some(e)
}

fn log_winner(
    campaign: CampaignId,
    winner: &str,
    counts: &[experiment::VariantCounts],
    released: u64,
) {
    let summary: Vec<String> = counts
        .iter()
        .map(|c| {
            format!(
                "{}: {} recipients, {} sent, {} opened, {} clicked, {} converted",
                c.variant, c.recipients, c.sent, c.opened, c.clicked, c.converted
            )
        })
        .collect();
    tracing::info!(%campaign, winner, released, counts = ?summary, "experiment winner chosen");
}
