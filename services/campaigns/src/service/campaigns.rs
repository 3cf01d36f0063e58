//! Campaign CRUD and lifecycle. Only a draft is edited; every other move goes through the
//! status machine (`domain::campaign::State::after`), so an illegal move is refused with
//! INVALID_CAMPAIGN_TRANSITION whatever the caller sends.
use super::{CampaignService, Mutation};
use crate::domain::campaign::{Action, Campaign, CampaignFields, DeliveryState, Reason, State};
use crate::domain::{self, CampaignId};
use crate::error;
use crate::store;
use crm_platform::field_mask::UpdateMask;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::page_token::PageTokens;
use crm_platform::paging::Page;
use crm_platform::{Error, Violations, etag};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use std::collections::HashMap;
use uuid::Uuid;

/// Deliveries of one campaign per state.
pub type Stats = HashMap<DeliveryState, i64>;

impl CampaignService {
    pub async fn create_campaign(
        &self,
        key: &IdempotencyKey,
        fields: CampaignFields,
    ) -> Result<Campaign, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        experiment_fits(&fields, "campaign")?;
        segments_exist(&txn, &fields, "campaign").await?;
        let campaign = Campaign::new(fields, domain::now());
        store::campaigns::insert(&txn, &campaign).await?;
        let m = Mutation::new(campaign.id.name(), campaign);
        self.core().writes.commit(txn, key, m).await
    }

    pub async fn campaign(&self, id: CampaignId) -> Result<Campaign, Error> {
        store::campaigns::find(self.db(), id)
            .await?
            .ok_or_else(|| error::campaign_not_found(id))
    }

    pub async fn campaign_stats(&self, id: CampaignId) -> Result<Stats, Error> {
        Ok(store::deliveries::counts(self.db(), id)
            .await?
            .into_iter()
            .collect())
    }

    /// One page of campaigns, newest first, optionally in one state.
    pub async fn list_campaigns(
        &self,
        state: Option<State>,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Campaign>, Error> {
        let filter = state.map_or("", State::code);
        let fingerprint = PageTokens::fingerprint(&["campaigns", filter]);
        let tokens = &self.core().tokens;
        let before: Option<Uuid> = tokens.decode(page_token, &fingerprint)?;
        let limit = self.core().paging.limit(page_size);
        let mut items = store::campaigns::list(self.db(), state, before, limit + 1).await?;
        let next_page_token = tokens.next_page(&mut items, limit, &fingerprint, |c| c.id.0);
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Changes the fields `mask` names of a draft.
    pub async fn update_campaign(
        &self,
        key: &IdempotencyKey,
        id: CampaignId,
        patch: CampaignFields,
        mask: &UpdateMask,
        sent_etag: &str,
    ) -> Result<Campaign, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let current = current(&txn, id, sent_etag).await?;
        if current.state != State::Draft {
            return Err(error::precondition(
                "CAMPAIGN_NOT_DRAFT",
                format!("a {} campaign cannot be edited", current.state.code()),
            )
            .with_metadata("campaign", id.name()));
        }
        let next = current.updated(patch, mask, domain::now());
        experiment_fits(&next.fields, "campaign")?;
        segments_exist(&txn, &next.fields, "campaign").await?;
        if !store::campaigns::update(&txn, &next).await? {
            return Err(Error::etag_mismatch());
        }
        let m = Mutation::new(id.name(), next);
        self.core().writes.commit(txn, key, m).await
    }

    /// A lifecycle move asked for by a caller (schedule, pause, resume, cancel). A cancel
    /// skips every delivery not yet sent.
    pub async fn move_campaign(
        &self,
        key: &IdempotencyKey,
        id: CampaignId,
        action: Action,
        sent_etag: &str,
    ) -> Result<Campaign, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let current = current(&txn, id, sent_etag).await?;
        let now = domain::now();
        let next = moved(&current, action, now)?;
        if !store::campaigns::update(&txn, &next).await? {
            return Err(Error::etag_mismatch());
        }
        if action == Action::Cancel {
            let skipped =
                store::deliveries::skip_open(&txn, id, Reason::CampaignCancelled, now).await?;
            tracing::info!(campaign = %id, skipped, "campaign cancelled");
        }
        let m = Mutation::new(id.name(), next);
        self.core().writes.commit(txn, key, m).await
    }

    /// A move made by the service itself (start, complete), in `txn`; false when the
    /// campaign changed meanwhile (the next run sees the new state).
    pub(crate) async fn move_internally(
        &self,
        txn: &impl ConnectionTrait,
        current: &Campaign,
        action: Action,
    ) -> Result<Option<Campaign>, Error> {
        let next = moved(current, action, domain::now())?;
        Ok(store::campaigns::update(txn, &next).await?.then_some(next))
    }
}

fn moved(
    c: &Campaign,
    action: Action,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Campaign, Error> {
    c.moved(action, now)
        .map_err(|(from, action)| error::invalid_transition(c.id, from, action))
}

/// The campaign as stored in `txn`, when `sent_etag` (empty: no precondition) is current.
async fn current(
    txn: &DatabaseTransaction,
    id: CampaignId,
    sent_etag: &str,
) -> Result<Campaign, Error> {
    let c = store::campaigns::find(txn, id)
        .await?
        .ok_or_else(|| error::campaign_not_found(id))?;
    etag::check(sent_etag, c.revision)?;
    Ok(c)
}

/// An experiment must fit the campaign: its schedule and variants (checked on the whole
/// campaign, so an update naming only some of the fields is checked on the merged one).
fn experiment_fits(f: &CampaignFields, at: &str) -> Result<(), Error> {
    let mut v = Violations::new();
    for (field, why) in domain::experiment::problems(&f.spec) {
        v.add(format!("{at}.{field}"), why);
    }
    v.into_result()
}

/// The audience and exclusion segments must exist: a missing one is a bad field.
async fn segments_exist(
    conn: &impl ConnectionTrait,
    f: &CampaignFields,
    at: &str,
) -> Result<(), Error> {
    let mut v = Violations::new();
    let named = std::iter::once((format!("{at}.segment"), f.segment)).chain(
        f.spec
            .exclusions
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("{at}.exclusion_segments[{i}]"), *s)),
    );
    for (field, id) in named {
        if store::segments::find(conn, id).await?.is_none() {
            v.add(field, format!("{id} does not exist"));
        }
    }
    // A missing coupon pool would skip every recipient of its variant.
    for (i, variant) in f.spec.variants.iter().enumerate() {
        if let Some(pool) = variant.coupon_pool
            && store::coupons::find_pool(conn, pool).await?.is_none()
        {
            v.add(
                format!("{at}.variants[{i}].coupon_pool"),
                format!("{pool} does not exist"),
            );
        }
    }
    v.into_result()
}
