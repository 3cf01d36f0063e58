//! The profile refresh job. Filled in by the catalogue work.
use super::RecommendationService;
use crm_platform::jobs::Jobs;

/// Starts the refresh job (when customers is configured).
pub fn start(svc: &RecommendationService, jobs: &mut Jobs) {
    let _ = (svc, jobs);
}
