//! Campaign reports (README "Campaign reports"): per variant and for the holdout, the
//! deliveries by state and reason, the attributed conversions and revenue, the lift over the
//! holdout with its interval, and conversions per day. Aggregates in SQL (one snapshot on
//! PostgreSQL, so the counts agree with each other), maths in domain::report.
use super::CampaignService;
use crate::domain::report::{self, Report};
use crate::domain::{self, CampaignId};
use crate::store;
use crm_platform::Error;
use sea_orm::{AccessMode, DbBackend, IsolationLevel, TransactionTrait};

impl CampaignService {
    pub async fn report(&self, id: CampaignId) -> Result<Report, Error> {
        let campaign = self.campaign(id).await?;
        let db = self.db();
        // SQLite reads in a transaction see one snapshot already (and takes no isolation level).
        let txn = match db.get_database_backend() {
            DbBackend::Postgres => {
                db.begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
            }
            _ => db.begin().await?,
        };
        let facts = report::Facts {
            tallies: store::report::delivery_tallies(&txn, id).await?,
            totals: store::report::conversion_totals(&txn, id).await?,
            converted: store::conversions::converted_by_variant(&txn, id).await?,
            days: store::report::conversion_days(&txn, id, self.settings().reports.timeline_days)
                .await?,
        };
        txn.commit().await?;
        Ok(report::build(&campaign, facts, domain::now()))
    }
}
