//! RebuildReadModel: every member known is marked for a refresh at once, then the rebuild
//! job pages customers' listing (every live customer becomes a member to refresh: profile,
//! traits, consents, RFM segment, balance and tier come back through the refresh job) and
//! tickets' complaints (open complaints come back). Purchases are facts only events carry:
//! they come back by replaying the customers stream (the platform's `replay`, within the
//! stream's retention), never from a snapshot. Progress is a row per request, so a restart
//! or another replica carries on from the last page.
use crate::domain::now;
use crate::service::{CampaignService, Mutation};
use crate::store::members::{self as store, Listing};
use crm_platform::Error;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use sea_orm::TransactionTrait as _;

/// Customers or tickets per page of a rebuild.
const PAGE: i32 = 500;

impl CampaignService {
    /// Starts a rebuild; returns the members marked now (a retry of the same request gets
    /// the first answer).
    pub async fn rebuild_read_model(&self, key: &IdempotencyKey) -> Result<i64, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let id = uuid::Uuid::now_v7();
        let tickets = self.clients().tickets_configured();
        let marked = store::start_rebuild(&txn, id, tickets, now()).await?;
        let marked = i64::try_from(marked).unwrap_or(i64::MAX);
        tracing::info!(rebuild = %id, marked, "read model rebuild requested");
        self.core()
            .writes
            .commit(txn, key, Mutation::new(format!("rebuilds/{id}"), marked))
            .await
    }

    /// One page of the oldest unfinished rebuild; returns whether there was one.
    pub async fn run_rebuild(&self) -> Result<bool, Error> {
        let Some(r) = store::next_rebuild(self.db()).await? else {
            return Ok(false);
        };
        let clients = self.clients();
        if !r.customers_done {
            let (ids, next) = if clients.customers_configured() {
                clients
                    .list_customers(&r.customers_token, PAGE)
                    .await
                    .map_err(|s| crate::service::read_model::upstream("ListCustomers", &s))?
            } else {
                (Vec::new(), String::new())
            };
            let txn = self.db().begin().await?;
            if store::advance_rebuild(
                &txn,
                r.id,
                Listing::Customers,
                &r.customers_token,
                &next,
                now(),
            )
            .await?
            {
                store::mark_stale(&txn, &ids, now()).await?;
            }
            txn.commit().await?;
            if next.is_empty() {
                tracing::info!(rebuild = %r.id, "read model rebuild: customers listed");
            }
            return Ok(true);
        }
        let (facts, next) = if clients.tickets_configured() {
            clients
                .complaint_tickets(&r.tickets_token, PAGE)
                .await
                .map_err(|s| crate::service::read_model::upstream("ListTickets", &s))?
        } else {
            (Vec::new(), String::new())
        };
        let txn = self.db().begin().await?;
        if store::advance_rebuild(&txn, r.id, Listing::Tickets, &r.tickets_token, &next, now())
            .await?
        {
            for f in &facts {
                store::set_ticket(&txn, f, now()).await?;
            }
        }
        txn.commit().await?;
        if next.is_empty() {
            tracing::info!(rebuild = %r.id, "read model rebuild: complaints listed");
        }
        Ok(true)
    }
}
