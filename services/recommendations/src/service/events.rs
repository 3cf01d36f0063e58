//! The consumers of customers' and loyalty's streams. Filled in by the catalogue work.
use super::RecommendationService;
use crm_platform::events::Events;
use crm_platform::jobs::Jobs;

/// Starts the consumers.
pub fn start(svc: &RecommendationService, backbone: &Events, jobs: &mut Jobs) {
    let _ = (svc, backbone, jobs);
}
