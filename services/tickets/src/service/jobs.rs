//! Background work: the SLA breach job and the customer verification pass.
use super::TicketsService;
use crate::clients::CustomerLookup;
use crate::domain::intake::{self, Settled};
use crate::domain::{CustomerCheck, TicketId, escalation, now};
use crate::events;
use crate::store;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::TransactionTrait;

/// What one SLA run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaRun {
    /// Breaches this runner claimed and handled.
    pub breaches: u64,
    /// Tickets escalated (a ticket with two breaches at once escalates once).
    pub escalated: u64,
}

impl TicketsService {
    /// Finds tickets past a due time and handles each breach exactly once: the breach is
    /// claimed by inserting its `sla_events` row (insert-if-absent on (ticket, target, due)),
    /// in the same transaction that escalates the ticket. A second runner finds the row and
    /// does nothing; a failed escalation rolls the claim back so the next run retries.
    pub async fn run_sla_check(&self, at: DateTime<Utc>) -> Result<SlaRun, Error> {
        let mut run = SlaRun::default();
        for id in store::due_tickets(&self.db, at, 200).await? {
            match self.escalate(id, at).await {
                Ok(n) if n > 0 => {
                    run.breaches += n;
                    run.escalated += 1;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(ticket = %id, error = %e, "SLA escalation failed; retried next run")
                }
            }
        }
        Ok(run)
    }

    async fn escalate(&self, id: TicketId, at: DateTime<Utc>) -> Result<u64, Error> {
        let txn = self.db.begin().await?;
        let Some(mut t) = store::lock_ticket(&txn, id).await? else {
            return Ok(0);
        };
        let now = now();
        let from = t.status;
        let mut claimed = Vec::new();
        for (target, due) in t.sla.overdue(at) {
            if store::claim_breach(&txn, id, target, due, now, escalation::ACTION).await? {
                claimed.push((target, due));
            }
        }
        if claimed.is_empty() {
            txn.rollback().await?;
            return Ok(0);
        }
        let escalation_team = store::claim_holder(&txn, store::Claim::Escalation).await?;
        let breached: Vec<_> = claimed
            .iter()
            .map(|&(target, due)| events::sla_breached(&t, target, due, at))
            .collect();
        let e = escalation::plan(&t, claimed, escalation_team);
        let released = e.apply(&mut t);
        // At the job's clock, so the breaches just claimed (due before `at`) stay put.
        self.repolicy(&mut t, at)?;
        if let Some(team) = e.team {
            if let Some(a) = released {
                store::release_capacity(&txn, a).await?;
            }
            t.assignee = self.route_within(&txn, team, t.category, now).await?;
        }
        self.note(&txn, id, e.note(), now).await?;
        self.save(&txn, &mut t, from, "", now).await?;
        self.events.append(&txn, id, breached).await?;
        txn.commit().await?;
        Ok(e.breaches.len() as u64)
    }

    /// The recorded breaches of a ticket: (target, due, action).
    pub async fn sla_events(
        &self,
        id: TicketId,
    ) -> Result<Vec<(String, DateTime<Utc>, String)>, Error> {
        store::sla_events(&self.db, id).await
    }

    /// Asks the customers service again about tickets accepted unverified. Stops at the first
    /// "unknown" answer (the service is still away). A ticket of a merged-away customer moves
    /// to the survivor; one of an erased or deleted customer is marked so (with a note).
    /// Returns how many were settled.
    pub async fn verify_customers(&self) -> Result<u64, Error> {
        if !self.clients.customers_configured() {
            return Ok(0);
        }
        let mut settled = 0;
        for t in store::unverified_tickets(&self.db, 100).await? {
            let (check, survivor) = match self.clients.customer(t.customer).await {
                CustomerLookup::Found { id, .. } => (CustomerCheck::Verified, id),
                CustomerLookup::NotFound => (CustomerCheck::NotFound, t.customer),
                CustomerLookup::Erased => (CustomerCheck::Erased, t.customer),
                CustomerLookup::Deleted => (CustomerCheck::Deleted, t.customer),
                CustomerLookup::Unknown => break,
            };
            let txn = self.db.begin().await?;
            let Some(mut t) = store::lock_ticket(&txn, t.id).await? else {
                continue;
            };
            let from = t.status;
            if let Settled::Now(note) = intake::settle_customer(&mut t, check, survivor) {
                let now = now();
                self.save(&txn, &mut t, from, "", now).await?;
                if let Some(body) = note {
                    self.note(&txn, t.id, body, now).await?;
                }
                settled += 1;
            }
            txn.commit().await?;
        }
        Ok(settled)
    }
}
