//! What customers' facts do to tickets (group `tickets.customers` on the customers stream):
//! a merge files the losers' tickets under the survivor, each with a system note; an erasure
//! scrubs the erased customer's tickets (and those of the customers merged into it), then
//! answers with ErasureCompleted. Every effect commits in the consumer's transaction with its
//! inbox row, a page of tickets at a time; logs carry names and counts, never text.
use super::TicketsService;
use super::messages::system_note;
use crate::domain::{CustomerId, TicketId, intake, now};
use crate::events;
use crate::store;
use crm_platform::Error;
use crm_platform::events::{Envelope, Handler, payload_of};
use crm_proto::events::event::Payload;
use crm_proto::events::types::{CUSTOMER_ERASED, CUSTOMER_MERGED};
use sea_orm::DatabaseTransaction;

/// Tickets per page of a merge or an erasure.
const PAGE: u64 = 500;

/// The consumer of customers' merges and erasures.
pub struct CustomerFacts(TicketsService);

impl CustomerFacts {
    pub fn new(svc: TicketsService) -> Self {
        Self(svc)
    }
}

fn customer(field: &str, name: &str) -> Result<CustomerId, Error> {
    CustomerId::parse_name(name)
        .map_err(|e| Error::internal(anyhow::anyhow!("{field} {name:?} is no customer name: {e}")))
}

impl Handler for CustomerFacts {
    fn event_types(&self) -> &[&str] {
        &[CUSTOMER_MERGED, CUSTOMER_ERASED]
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        match payload_of(event)? {
            Payload::CustomerMerged(m) => {
                let survivor = customer("survivor", &m.survivor)?;
                let losers = m
                    .losers
                    .iter()
                    .map(|l| customer("loser", l))
                    .collect::<Result<Vec<_>, _>>()?;
                let moved = self
                    .0
                    .repoint_customer_tickets(txn, &losers, survivor)
                    .await?;
                tracing::info!(survivor = %m.survivor, losers = losers.len(), moved, "merged customers' tickets re-pointed");
                Ok(())
            }
            Payload::CustomerErased(e) => {
                let mut whose = vec![customer("customer", &e.customer)?];
                for m in &e.merged_customers {
                    whose.push(customer("merged customer", m)?);
                }
                let scrubbed = self
                    .0
                    .erase_customer_data(txn, &whose, &e.customer, &event.id.to_string())
                    .await?;
                tracing::info!(customer = %e.customer, scrubbed, "erased customer's ticket data scrubbed");
                Ok(())
            }
            // event_types lets no other type through.
            _ => Ok(()),
        }
    }
}

impl TicketsService {
    /// Files every ticket of `losers` under `survivor` (or the customer it was merged into
    /// since), a page at a time, each with a system note, and records the merges; returns
    /// how many moved. A repeat finds nothing left to move.
    pub async fn repoint_customer_tickets(
        &self,
        txn: &DatabaseTransaction,
        losers: &[CustomerId],
        survivor: CustomerId,
    ) -> Result<u64, Error> {
        let now = now();
        // Merged away itself since (that merge's event handled first): its survivor.
        let survivor = store::final_survivor(txn, survivor).await?;
        let mut moved: u64 = 0;
        for &loser in losers.iter().filter(|&&l| l != survivor) {
            store::record_merge(txn, loser, survivor, now).await?;
            let note = intake::merged_note(loser, survivor);
            // Moved tickets leave the loser, so each page starts from the first left.
            loop {
                let page = store::tickets_of_customers(txn, &[loser], None, PAGE).await?;
                if page.is_empty() {
                    break;
                }
                let n = store::repoint_tickets(txn, &page, loser, survivor, now).await?;
                moved = moved.saturating_add(n);
                let notes: Vec<_> = page
                    .iter()
                    .map(|&t| system_note(t, note.clone(), now))
                    .collect();
                store::insert_messages(txn, &notes).await?;
                if (page.len() as u64) < PAGE {
                    break;
                }
            }
        }
        Ok(moved)
    }

    /// Scrubs every ticket of `whose` (the erased customer and those merged into it), a page
    /// at a time, then appends ErasureCompleted for `erased` answering `erasure_event_id`.
    /// Returns the records scrubbed (a repeat scrubs the same records again, to the same
    /// marker).
    pub async fn erase_customer_data(
        &self,
        txn: &DatabaseTransaction,
        whose: &[CustomerId],
        erased: &str,
        erasure_event_id: &str,
    ) -> Result<u64, Error> {
        let now = now();
        let mut scrubbed: u64 = 0;
        // One scan of all of `whose` in ticket order, not one per customer: a merge handled
        // meanwhile by another replica moves a ticket from a merged customer to the erased
        // one, and per-customer scans (each its own snapshot) could read it under neither.
        let mut after: Option<TicketId> = None;
        loop {
            let page = store::tickets_of_customers(txn, whose, after, PAGE).await?;
            let Some(&last) = page.last() else { break };
            scrubbed = scrubbed.saturating_add(store::scrub_tickets(txn, &page, now).await?);
            if (page.len() as u64) < PAGE {
                break;
            }
            after = Some(last);
        }
        self.events
            .append_about(
                txn,
                erased,
                events::erasure_completed(erased, erasure_event_id, scrubbed, now),
            )
            .await?;
        Ok(scrubbed)
    }
}
