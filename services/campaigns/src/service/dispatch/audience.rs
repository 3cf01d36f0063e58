//! The start job: scheduled campaigns start, running ones get their audience written.
use super::super::CampaignService;
use crate::domain::campaign::{Action, Campaign, State};
use crate::domain::{self, sending};
use crate::service::receipts::audience;
use crate::store::{self, deliveries::NewDelivery, entities::member};
use crm_platform::Error;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait};
use uuid::Uuid;

/// Campaigns looked at per run.
const CAMPAIGNS_PER_RUN: u64 = 50;

impl CampaignService {
    /// Starts the campaigns whose time has come and writes one audience page of each running
    /// campaign whose audience is not complete, then completes the campaigns with nothing
    /// left to send. Returns the recipients written.
    pub async fn start_due(&self) -> Result<u64, Error> {
        let now = domain::now();
        for c in
            store::campaigns::in_state(self.db(), State::Scheduled, Some(now), CAMPAIGNS_PER_RUN)
                .await?
        {
            let txn = self.db().begin().await?;
            if self
                .move_internally(&txn, &c, Action::Start)
                .await?
                .is_some()
            {
                txn.commit().await?;
                tracing::info!(campaign = %c.id, "campaign started");
            }
        }
        let mut written = 0;
        for c in
            store::campaigns::in_state(self.db(), State::Running, None, CAMPAIGNS_PER_RUN).await?
        {
            if c.fields.trigger().is_some() {
                // H3 stand-in for H1's: a journey has no audience page and never completes.
                if !c.audience_done {
                    store::campaigns::set_audience_progress(self.db(), c.id, None, true).await?;
                }
            } else if !c.audience_done {
                written += self.write_audience_page(&c).await?;
            } else if !store::deliveries::has_open(self.db(), c.id).await? {
                let txn = self.db().begin().await?;
                if self
                    .move_internally(&txn, &c, Action::Complete)
                    .await?
                    .is_some()
                {
                    txn.commit().await?;
                    tracing::info!(campaign = %c.id, "campaign completed");
                }
            }
        }
        Ok(written)
    }

    /// One page of `c`'s audience as pending deliveries, and the cursor after it, in one
    /// transaction (a crash resumes the page; the unique key drops the repeats).
    async fn write_audience_page(&self, c: &Campaign) -> Result<u64, Error> {
        let db = self.db();
        let now = domain::now();
        let Some(segment) = store::segments::find(db, c.fields.segment).await? else {
            tracing::warn!(campaign = %c.id, segment = %c.fields.segment, "campaign segment is gone; no audience");
            store::campaigns::set_audience_progress(db, c.id, None, true).await?;
            return Ok(0);
        };
        let mut exclusions = Vec::new();
        for id in &c.fields.spec.exclusions {
            if let Some(s) = store::segments::find(db, *id).await? {
                exclusions.push(s.rule);
            }
        }
        let rule = audience(segment.rule, exclusions);
        let keys = self.keys().await?;
        let page = u64::from(self.settings().sending.audience_page);
        let cursor = store::campaigns::audience_cursor(db, c.id).await?;
        let ids = store::segments::member_page(db, &rule, &keys, now, cursor, page).await?;
        let zones: Vec<(Uuid, String)> = member::Entity::find()
            .select_only()
            .column(member::Column::Id)
            .column(member::Column::TimeZone)
            .filter(member::Column::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        let zones: std::collections::HashMap<Uuid, String> = zones.into_iter().collect();
        let start = c.start_time.unwrap_or(now);
        let variants = &c.fields.spec.variants;
        let weights: Vec<u32> = variants.iter().map(|v| v.weight).collect();
        let recipients = ids
            .iter()
            .map(|id| {
                let tz = sending::parse_time_zone(zones.get(id).map_or("", String::as_str));
                let variant = variants
                    .get(sending::assign_variant(c.id.0, *id, &weights))
                    .map(|v| v.id.clone())
                    .unwrap_or_default();
                // H1: the holdout and the experiment's rest by domain::experiment::assign.
                NewDelivery {
                    customer: *id,
                    variant,
                    due: c.fields.spec.schedule.due_for(start, tz),
                    state: crate::domain::campaign::DeliveryState::Pending,
                    occasion: String::new(),
                }
            })
            .collect();
        let done = (ids.len() as u64) < page;
        let txn = db.begin().await?;
        store::deliveries::insert_recipients(
            &txn,
            c.id,
            c.fields.channel,
            c.fields.transactional,
            recipients,
            now,
        )
        .await?;
        store::campaigns::set_audience_progress(&txn, c.id, ids.last().copied().or(cursor), done)
            .await?;
        txn.commit().await?;
        if done {
            tracing::info!(campaign = %c.id, "campaign audience written");
        }
        Ok(ids.len() as u64)
    }
}
