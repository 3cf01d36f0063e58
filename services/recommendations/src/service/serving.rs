//! Serving. Filled in by the serving work.
use super::RecommendationService;
use crm_platform::jobs::Jobs;

/// Starts serving's jobs (the purge of served answers).
pub fn start(svc: &RecommendationService, jobs: &mut Jobs) {
    let _ = (svc, jobs);
}
