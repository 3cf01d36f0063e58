//! The read model (helper H3 fills this module): event handlers, refresh, rebuild.
use super::CampaignService;
use crm_platform::events::Events;
use crm_platform::jobs::Jobs;

/// Starts the consumers of customers', loyalty's and tickets' streams and the refresh job.
pub fn start(_svc: &CampaignService, _backbone: &Events, _jobs: &mut Jobs) {}
