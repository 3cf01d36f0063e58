//! (filled in by its owner)
use super::CampaignService;
use crm_platform::jobs::Jobs;

/// Starts this area's background jobs.
pub fn start(_svc: &CampaignService, _jobs: &mut Jobs) {}
