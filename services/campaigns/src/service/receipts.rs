//! (filled in by its owner)
use super::CampaignService;
impl CampaignService {}
