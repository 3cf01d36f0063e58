//! The refresh job: members that events marked stale are asked about in batches, customers
//! first (BatchGetCustomers, then GetCustomerInsights for the RFM segment), loyalty second
//! (GetBalance, GetTier), and the answers written in one transaction per batch. A member
//! whose answer failed is asked again after `refresh_retry_secs`; one an event changed while
//! its answer was in flight stays stale and is asked again at once.
use super::convert::snapshot;
use crate::clients::CustomerAnswer;
use crate::domain::member::{LoyaltyFacts, Snapshot, SnapshotState};
use crate::domain::{CustomerId, now};
use crate::service::CampaignService;
use crate::store::members::{self as store, Due};
use crm_platform::Error;
use sea_orm::TransactionTrait as _;

/// What one member's refresh learnt.
struct Answer {
    due: Due,
    /// None: not asked (not stale) or failed; see `profile_failed`.
    profile: Option<Snapshot>,
    profile_failed: bool,
    /// Customers no longer has it (the erasure or deletion event decides).
    profile_gone: bool,
    loyalty: Option<LoyaltyFacts>,
    loyalty_failed: bool,
}

/// What one run did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RefreshRun {
    pub refreshed: u64,
    pub failed: u64,
}

impl CampaignService {
    /// One batch of the refresh job.
    pub async fn refresh_read_model(&self) -> Result<RefreshRun, Error> {
        let clients = self.clients();
        let (profile, loyalty) = (clients.customers_configured(), clients.loyalty_configured());
        let batch = u64::from(self.settings().read_model.refresh_batch);
        let due = store::due(self.db(), profile, loyalty, now(), None, batch).await?;
        if due.is_empty() {
            return Ok(RefreshRun::default());
        }
        let answers = self.ask(&due).await;
        self.write_answers(answers).await
    }

    async fn ask(&self, due: &[Due]) -> Vec<Answer> {
        let clients = self.clients();
        let asked: Vec<CustomerId> = due
            .iter()
            .filter(|d| d.profile_stale)
            .map(|d| d.id)
            .collect();
        let mut customers = if asked.is_empty() {
            Vec::new()
        } else {
            clients.customers(&asked).await
        }
        .into_iter();
        let mut out = Vec::with_capacity(due.len());
        for d in due {
            let mut a = Answer {
                due: *d,
                profile: None,
                profile_failed: false,
                profile_gone: false,
                loyalty: None,
                loyalty_failed: false,
            };
            if d.profile_stale {
                match customers.next() {
                    Some(CustomerAnswer::Found(c)) => {
                        let mut s = snapshot(d.id, &c, now());
                        if s.state == SnapshotState::Active {
                            s.rfm_segment = clients.rfm_segment(d.id).await;
                        }
                        a.profile = Some(s);
                    }
                    Some(CustomerAnswer::Erased) => {
                        a.profile = Some(Snapshot {
                            state: SnapshotState::Erased,
                            ..Snapshot::default()
                        });
                    }
                    Some(CustomerAnswer::Gone) => a.profile_gone = true,
                    Some(CustomerAnswer::Failed) | None => a.profile_failed = true,
                }
            }
            if d.loyalty_stale {
                a.loyalty = clients.loyalty(d.id).await;
                a.loyalty_failed = a.loyalty.is_none();
            }
            out.push(a);
        }
        out
    }

    async fn write_answers(&self, answers: Vec<Answer>) -> Result<RefreshRun, Error> {
        let keys = self.keys().await?;
        let now = now();
        let retry = now
            + chrono::TimeDelta::seconds(
                i64::try_from(self.settings().read_model.refresh_retry_secs).unwrap_or(i64::MAX),
            );
        let txn = self.db().begin().await?;
        let mut run = RefreshRun::default();
        let mut failed = Vec::new();
        for a in &answers {
            let profile_done = a.profile.is_some() || a.profile_gone;
            let loyalty_done = a.loyalty.is_some();
            store::settle(&txn, &a.due, profile_done, loyalty_done).await?;
            if let Some(s) = &a.profile {
                match s.state {
                    SnapshotState::Merged(into) => {
                        store::customers_merged(&txn, into, &[a.due.id], now).await?;
                    }
                    SnapshotState::Erased => {
                        crate::store::segments::forget_member(&txn, a.due.id.0).await?;
                        store::erase(&txn, &[a.due.id]).await?;
                        continue;
                    }
                    _ => store::write_snapshot(&txn, &keys, a.due.id, s, now).await?,
                }
            }
            if let Some(l) = &a.loyalty {
                store::write_loyalty(&txn, a.due.id, l, now).await?;
            }
            if a.profile_failed || a.loyalty_failed {
                failed.push(a.due.id);
            } else {
                run.refreshed += 1;
            }
        }
        run.failed = store::retry_at(&txn, &failed, retry).await?;
        txn.commit().await?;
        if run.failed > 0 {
            tracing::warn!(
                failed = run.failed,
                retry_secs = self.settings().read_model.refresh_retry_secs,
                "read model refresh failed for some members; retried later"
            );
        }
        Ok(run)
    }
}
