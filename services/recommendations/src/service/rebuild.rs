//! The model build and publish. Filled in by the rebuild work.
use super::RecommendationService;
use crm_platform::jobs::Jobs;

/// Starts the rebuild job (`rebuild.interval_secs` > 0).
pub fn start(svc: &RecommendationService, jobs: &mut Jobs) {
    let _ = (svc, jobs);
}
