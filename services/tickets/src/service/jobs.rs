//! Background work: the SLA breach job and the customer verification pass.
use super::TicketsService;
use crate::clients::CustomerLookup;
use crate::domain::{CustomerCheck, TicketId, now};
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
        let mut claimed = Vec::new();
        for (target, due) in t.sla.overdue(at) {
            let action = "priority bump; escalation team";
            if store::claim_breach(&txn, id, target, due, now, action).await? {
                t.sla.breach(target, due);
                claimed.push(target.as_str());
            }
        }
        if claimed.is_empty() {
            txn.rollback().await?;
            return Ok(0);
        }
        t.priority = t.priority.bumped();
        t.escalations += 1;
        // At the job's clock, so the breaches just claimed (due before `at`) stay put.
        self.repolicy(&mut t, at)?;
        let escalation = store::claim_holder(&txn, store::Claim::Escalation).await?;
        let mut moved = String::new();
        if let Some(team) = escalation
            && t.team != Some(team)
        {
            if let Some(a) = t.assignee.take() {
                store::release_capacity(&txn, a).await?;
            }
            t.team = Some(team);
            t.assignee = self.route_within(&txn, team, t.category, now).await?;
            moved = format!("; reassigned to {team}");
        }
        self.note(
            &txn,
            id,
            format!(
                "SLA missed: {}. Priority raised to {}{moved}.",
                claimed.join(", "),
                t.priority.as_str()
            ),
            now,
        )
        .await?;
        self.save(&txn, &mut t, now).await?;
        txn.commit().await?;
        Ok(claimed.len() as u64)
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
            if t.customer_check == CustomerCheck::Unverified {
                t.customer_check = check;
                let now = now();
                let note = match check {
                    CustomerCheck::NotFound => Some(format!(
                        "The customers service does not know {}.",
                        t.customer
                    )),
                    CustomerCheck::Erased => Some(format!("{} was erased.", t.customer)),
                    CustomerCheck::Deleted => Some(format!("{} is deleted.", t.customer)),
                    _ if survivor != t.customer => Some(format!(
                        "{} was merged into {survivor}; the ticket moved to it.",
                        t.customer
                    )),
                    _ => None,
                };
                t.customer = survivor;
                self.save(&txn, &mut t, now).await?;
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
