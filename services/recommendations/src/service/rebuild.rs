//! The model build and publish. Filled in by the rebuild work.
use super::RecommendationService;
use crm_platform::jobs::Jobs;

/// Starts the rebuild job (`rebuild.interval_secs` > 0).
pub fn start(svc: &RecommendationService, jobs: &mut Jobs) {
    let _ = (svc, jobs);
}

/// One model build against the configured database, then exit (`crm-recommendations
/// rebuild`). Placeholder until the rebuild work lands (it replaces this function).
pub async fn run_once(settings: crate::Settings) -> anyhow::Result<()> {
    let _ = settings;
    anyhow::bail!("the rebuild is not built yet")
}
