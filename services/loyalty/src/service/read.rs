//! Statements, balances at a point in time, tiers.
use super::{LoyaltyService, Page};
use crate::domain::balance::tier_status;
use crate::domain::{CustomerId, TierChange, TierStatus, Transaction, TxKind};
use crate::store::ledger::{self as store, TxQuery};
use crate::store::tiers;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use crm_platform::page_token::PageTokens;

#[derive(Debug, Clone, Default)]
pub struct TxFilter {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub kinds: Vec<TxKind>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceAt {
    pub wallet: i64,
    pub held: i64,
    pub sequence: i64,
}

impl LoyaltyService {
    pub async fn list_transactions(
        &self,
        customer: CustomerId,
        f: &TxFilter,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Transaction>, Error> {
        let mut kinds: Vec<&str> = f.kinds.iter().map(|k| k.as_str()).collect();
        kinds.sort_unstable();
        let fingerprint = PageTokens::fingerprint(&[
            "transactions",
            &customer.name(),
            &f.start.map(|t| t.to_rfc3339()).unwrap_or_default(),
            &f.end.map(|t| t.to_rfc3339()).unwrap_or_default(),
            &kinds.join(","),
        ]);
        let before: Option<i64> = self.core.tokens.decode(page_token, &fingerprint)?;
        let limit = self.page_size(page_size);
        let q = TxQuery {
            customer,
            start: f.start,
            end: f.end,
            kinds: f.kinds.clone(),
            before_sequence: before,
            limit: limit + 1,
        };
        let mut rows = store::list(&self.core.db, &q).await?;
        let next = self
            .core
            .tokens
            .next_page(&mut rows, limit, &fingerprint, |t| t.sequence);
        Ok(Page {
            items: rows,
            next_page_token: next,
        })
    }

    pub async fn balance_at(
        &self,
        customer: CustomerId,
        t: DateTime<Utc>,
    ) -> Result<BalanceAt, Error> {
        let found = store::state_at(&self.core.db, customer, t).await?;
        let (sequence, wallet, held) = found.unwrap_or((0, 0, 0));
        Ok(BalanceAt {
            wallet,
            held,
            sequence,
        })
    }

    /// The tier of `customer`, or of the survivor when it was merged.
    pub async fn tier(&self, customer: CustomerId) -> Result<TierStatus, Error> {
        let s = self.open_snapshot(customer).await?;
        Ok(tier_status(
            self.program(),
            &s.qualifying,
            crate::domain::now(),
        ))
    }

    pub async fn tier_history(
        &self,
        customer: CustomerId,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<TierChange>, Error> {
        let fingerprint = PageTokens::fingerprint(&["tiers", &customer.name()]);
        let before: Option<uuid::Uuid> = self.core.tokens.decode(page_token, &fingerprint)?;
        let limit = self.page_size(page_size);
        let mut rows = tiers::list(&self.core.db, customer, before, limit + 1).await?;
        let next = self
            .core
            .tokens
            .next_page(&mut rows, limit, &fingerprint, |c| c.id);
        Ok(Page {
            items: rows,
            next_page_token: next,
        })
    }
}
