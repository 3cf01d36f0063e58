//! An unsubscribe from a campaign message (campaigns' RecipientUnsubscribed): the channel's
//! consent is revoked with source [`UNSUBSCRIBE_SOURCE`], as an ordinary consent change
//! would (new revision, audit entry, CustomerUpdated + ConsentChanged events), in the
//! consumer's transaction. A decision taken after the unsubscribe (the customer opted in
//! again) stands; a revoked consent stays as it is; a merged customer's survivor is the one
//! revoked; a deleted or erased customer, or one unknown here, is left alone.
use super::{CustomersService, MAX_MERGE_HOPS, save_revision};
use crate::domain::{Channel, Consent, CustomerId, CustomerState};
use crate::events;
use crate::store::customers as store;
use chrono::{DateTime, Utc};
use crm_platform::Error;
use sea_orm::DatabaseTransaction;

/// The consent source of a revocation by unsubscribe.
pub const UNSUBSCRIBE_SOURCE: &str = "campaigns:unsubscribe";

/// What an unsubscribe did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsubscribed {
    /// The consent of this customer (the survivor of a merged one) was revoked.
    Revoked(CustomerId),
    /// Nothing to do, and why (for the log).
    Unchanged(&'static str),
}

impl CustomersService {
    /// Revokes `channel` of `id` as of `time`, in `txn`.
    pub async fn unsubscribe_in(
        &self,
        txn: &DatabaseTransaction,
        id: CustomerId,
        channel: Channel,
        time: DateTime<Utc>,
    ) -> Result<Unsubscribed, Error> {
        let pii = self.keys().await?;
        let mut current = id;
        let mut c = None;
        for _ in 0..MAX_MERGE_HOPS {
            let Some(found) = store::find(txn, &pii, current).await? else {
                return Ok(Unsubscribed::Unchanged("unknown customer"));
            };
            match (found.state, found.merged_into) {
                (CustomerState::Merged, Some(next)) => current = next,
                _ => {
                    c = Some(found);
                    break;
                }
            }
        }
        let Some(mut c) = c else {
            return Ok(Unsubscribed::Unchanged("merge chain too long"));
        };
        if c.writable().is_err() {
            return Ok(Unsubscribed::Unchanged("customer not active"));
        }
        let consents = &mut c.profile.consents;
        let before_consents = consents.clone();
        match consents.iter_mut().find(|k| k.channel == channel) {
            Some(k) if !k.granted => return Ok(Unsubscribed::Unchanged("already revoked")),
            Some(k) if k.update_time > time => {
                return Ok(Unsubscribed::Unchanged("a later decision stands"));
            }
            Some(k) => {
                k.granted = false;
                k.source = UNSUBSCRIBE_SOURCE.to_owned();
                k.update_time = time;
            }
            None => consents.push(Consent {
                channel,
                granted: false,
                source: UNSUBSCRIBE_SOURCE.to_owned(),
                update_time: time,
            }),
        }
        let mut before = c.clone();
        before.profile.consents = before_consents;
        let now = crate::domain::now();
        save_revision(
            txn,
            &pii,
            &mut c,
            now,
            "updated",
            "campaigns",
            "fields: consents (unsubscribe)",
        )
        .await?;
        self.events
            .append(txn, c.id, events::updated(&before, &c))
            .await?;
        Ok(Unsubscribed::Revoked(c.id))
    }

    /// Drops `ids` from the cache (after the transaction that changed them committed).
    pub async fn forget_cached(&self, ids: &[CustomerId]) {
        for id in ids {
            self.cache()
                .invalidate::<crate::domain::Customer>(&id.0.to_string())
                .await;
        }
    }
}
