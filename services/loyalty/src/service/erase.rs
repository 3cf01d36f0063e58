//! CustomerErased, applied in the consumer's transaction: the free text of the erased
//! customer's transactions and of those merged into it (descriptions, reasons, who acted)
//! is scrubbed, amounts and hashes stay ([`crate::domain::erase`]), and the stored
//! responses of their calls (which repeat that text) are dropped. Lots, holds, orders and
//! tier history hold no free text and stay as they are. Nothing else personal is kept.
use super::LoyaltyService;
use crate::domain::CustomerId;
use crate::domain::erase::Scrubber;
use crate::events::consume::customer;
use crate::events::produce;
use crate::store::{ledger as store, merge as merge_store};
use crm_platform::Error;
use crm_platform::idempotency;
use crm_proto::events as ev;
use ev::event::Payload;
use sea_orm::ConnectionTrait;

/// Transactions of one chain read and scrubbed at a time.
const PAGE: u64 = 500;

impl LoyaltyService {
    /// Applies CUSTOMER_ERASED in `txn` (the consumer's); `erasure_event_id` is the erased
    /// event's envelope id. Appends ErasureCompleted (subject: the customer) in `txn` and
    /// returns it. Idempotent: a second run scrubs nothing and reports 0 records.
    pub async fn erase_customer_in(
        &self,
        txn: &impl ConnectionTrait,
        e: &ev::CustomerErased,
        erasure_event_id: &str,
    ) -> Result<Vec<Payload>, Error> {
        let erased = customer(&e.customer)?;
        let mut customers = Vec::with_capacity(1 + e.merged_customers.len());
        for name in std::iter::once(&e.customer).chain(&e.merged_customers) {
            let c = customer(name)?;
            if !customers.contains(&c) {
                customers.push(c);
            }
        }
        // Locked one at a time in id order (the global lock order).
        customers.sort();
        let mut scrubbed = 0u64;
        for c in customers {
            scrubbed = scrubbed.saturating_add(self.scrub_chain(txn, c).await?);
            let dropped = idempotency::forget_resource(txn, &c.name()).await?;
            scrubbed = scrubbed.saturating_add(dropped);
        }
        let done = produce::erasure_completed(
            &e.customer,
            erasure_event_id,
            i64::try_from(scrubbed).unwrap_or(i64::MAX),
            crate::domain::now(),
        );
        self.events
            .append(txn, vec![(erased, done.clone())])
            .await?;
        Ok(vec![done])
    }

    /// Scrubs `customer`'s chain under its wallet lock, a page at a time; the number of
    /// transactions whose text was cleared. A chain that does not verify is not scrubbed
    /// (an error: the event is retried, then dead-lettered for an operator), so scrubbing
    /// never re-links a row altered behind the service's back.
    async fn scrub_chain(
        &self,
        txn: &impl ConnectionTrait,
        customer: CustomerId,
    ) -> Result<u64, Error> {
        if store::find_wallet(txn, customer).await?.is_none() {
            return Ok(0);
        }
        let locked = store::lock_wallets(txn, &[customer], self.program().base_tier()).await?;
        let mut wallet = locked
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal(anyhow::anyhow!("wallet {customer} not locked")))?;
        let mut s = Scrubber::default();
        loop {
            let page = store::chain_after(txn, customer, s.sequence(), PAGE).await?;
            let mut text_only = Vec::new();
            for t in &page {
                let changed = s.next(t).map_err(|problem| {
                    Error::internal(anyhow::anyhow!(
                        "{customer}'s chain does not verify at #{}: {problem}; not scrubbed",
                        t.sequence
                    ))
                })?;
                match changed {
                    Some(n) if n.hash == t.hash => text_only.push(n.id),
                    Some(n) => merge_store::relink(txn, &n).await?,
                    None => {}
                }
            }
            merge_store::clear_text(txn, text_only).await?;
            if (page.len() as u64) < PAGE {
                break;
            }
        }
        let (stored, new) = s.heads();
        let head_matches =
            wallet.sequence == s.sequence() && (s.sequence() == 0 || wallet.last_hash == stored);
        if !head_matches {
            return Err(Error::internal(anyhow::anyhow!(
                "{customer}'s wallet head #{} is not its chain's end #{}; not scrubbed",
                wallet.sequence,
                s.sequence()
            )));
        }
        if stored != new {
            wallet.last_hash = new.to_owned();
            store::save_wallets(txn, &[wallet]).await?;
        }
        Ok(s.scrubbed)
    }
}
