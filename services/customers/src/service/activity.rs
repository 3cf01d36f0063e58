//! Activities and the insights computed from them.
use super::{Begun, CustomersService, Mutation, Page, check_under};
use crate::domain::insights::{self, Insights, PurchaseSummary};
use crate::domain::{self, Activity, ActivityKind, CustomerId, CustomerState};
use crate::error;
use crate::events;
use crate::store::activities::{self, ActivityQuery, Cursor};
use crate::store::customers as store;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::idempotency::IdempotencyKey;
use crm_platform::page_token::PageTokens;

pub type ActivityPage = Page<Activity>;

#[derive(Debug, Clone)]
pub struct InsightsReport {
    pub customer: CustomerId,
    pub summary: PurchaseSummary,
    pub insights: Insights,
    pub compute_time: DateTime<Utc>,
}

impl CustomersService {
    /// Records `activity` (its id, customer and create time are set here). A merged customer's
    /// activity goes to the survivor.
    pub async fn record_activity(
        &self,
        key: &IdempotencyKey,
        customer: CustomerId,
        activity: Activity,
    ) -> Result<Activity, Error> {
        let pii = self.keys().await?;
        let now = domain::now();
        check_under("activity", |v| activity.validate(v))?;
        let target = self.resolve(customer).await?;
        target
            .writable()
            .map_err(|why| error::refused(target.id, why))?;
        let owner = target.id;
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let m = {
            let txn = &txn;
            // Re-check inside the transaction, holding a share lock on the customer until the
            // commit: an erasure (or merge) either waits for this activity and then scrubs (or
            // moves) it, or commits first and this sees its new state and refuses.
            let c = store::find_locked(txn, &pii, owner, store::RowLock::Share)
                .await?
                .ok_or_else(|| error::not_found(owner))?;
            if c.state == CustomerState::Merged {
                return Err(error::failed_precondition(format!(
                    "{owner} changed while recording; retry"
                )));
            }
            c.writable().map_err(|why| error::refused(owner, why))?;
            let a = Activity {
                id: uuid::Uuid::now_v7(),
                customer: owner,
                create_time: now,
                ..activity.clone()
            };
            activities::insert(txn, &pii, &a).await?;
            self.events
                .append(txn, owner, vec![events::activity_recorded(&a)])
                .await?;
            Mutation {
                resource: owner.name(),
                touched: Vec::new(),
                value: a,
            }
        };
        self.commit(txn, key, m).await
    }

    pub async fn list_activities(
        &self,
        customer: CustomerId,
        kind: Option<ActivityKind>,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        page_size: u32,
        page_token: &str,
    ) -> Result<ActivityPage, Error> {
        let pii = self.keys().await?;
        let owner = self.resolve(customer).await?.id;
        let fingerprint = PageTokens::fingerprint(&[
            "activities",
            &owner.name(),
            kind.map(ActivityKind::as_str).unwrap_or(""),
            &start.map(|t| t.to_rfc3339()).unwrap_or_default(),
            &end.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ]);
        let after: Option<Cursor> = self.core.tokens.decode(page_token, &fingerprint)?;
        let limit = self.page_size(page_size);
        let q = ActivityQuery {
            customer: owner,
            kind,
            start,
            end,
            after,
            limit: limit + 1,
        };
        let mut rows = activities::list(&self.core.db, &pii, &q).await?;
        let next = self
            .core
            .tokens
            .next_page(&mut rows, limit, &fingerprint, |a| Cursor {
                t: a.occur_time,
                id: a.id,
            });
        Ok(Page {
            items: rows,
            next_page_token: next,
        })
    }

    pub async fn insights(&self, customer: CustomerId) -> Result<InsightsReport, Error> {
        let owner = self.resolve(customer).await?.id;
        let now = domain::now();
        let summary = activities::purchase_summary(&self.core.db, owner, now).await?;
        let insights = insights::compute(&summary, now, &self.cfg.insights);
        Ok(InsightsReport {
            customer: owner,
            summary,
            insights,
            compute_time: now,
        })
    }
}
