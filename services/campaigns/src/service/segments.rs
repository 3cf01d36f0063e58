//! Saved segments (create, read, list, update with mask and etag, delete unless a live
//! campaign uses it), preview of an unsaved rule, members on demand, and the membership job:
//! members changed by events (`segments_dirty`) are re-evaluated against every segment, and
//! each segment in full when new, changed, or `full_evaluation_secs` old; every enter and
//! exit is a `segment_members` row change, the count, and one SegmentMembershipChanged
//! event in the same transaction.
use super::{CampaignService, Mutation};
use crate::domain::member::Member;
use crate::domain::segment::{Rule, Segment, SegmentFields};
use crate::domain::{self, SegmentId};
use crate::error;
use crate::store::segments::{self as store, Scope};
use chrono::{DateTime, Utc};
use crm_platform::field_mask::UpdateMask;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::jobs::Jobs;
use crm_platform::page_token::PageTokens;
use crm_platform::paging::Page;
use crm_platform::pii::Keys;
use crm_platform::validate::to_timestamp;
use crm_platform::{Error, etag};
use crm_proto::events as ev;
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};
use std::time::Duration;
use uuid::Uuid;

/// Starts this area's background jobs: the membership tracking.
pub fn start(svc: &CampaignService, jobs: &mut Jobs) {
    let every = Duration::from_millis(svc.settings().read_model.membership_interval_ms);
    jobs.every(every, "segment membership", svc.clone(), |svc| async move {
        svc.track_membership_once().await.map(|_| ())
    });
}

/// Batches of changed members one run takes at most (the rest wait for the next run).
const MAX_DIRTY_BATCHES: usize = 10;

impl CampaignService {
    pub async fn create_segment(
        &self,
        key: &IdempotencyKey,
        fields: SegmentFields,
    ) -> Result<Segment, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let segment = Segment::new(fields, domain::now());
        store::insert(&txn, &segment).await?;
        tracing::info!(segment = %segment.id.0, "segment created");
        let m = Mutation::new(segment.id.name(), segment);
        self.core().writes.commit(txn, key, m).await
    }

    pub async fn get_segment(&self, id: SegmentId) -> Result<Segment, Error> {
        store::find(self.db(), id)
            .await?
            .ok_or_else(|| error::segment_not_found(id))
    }

    /// One page of segments, oldest first.
    pub async fn list_segments(
        &self,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Segment>, Error> {
        let fingerprint = PageTokens::fingerprint(&["segments"]);
        let tokens = &self.core().tokens;
        let after: Option<Uuid> = tokens.decode(page_token, &fingerprint)?;
        let limit = self.core().paging.limit(page_size);
        let mut items = store::list(self.db(), after, limit + 1).await?;
        let next_page_token = tokens.next_page(&mut items, limit, &fingerprint, |s| s.id.0);
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Changes the fields `mask` names; `sent_etag` (when not empty) must be the current one.
    pub async fn update_segment(
        &self,
        key: &IdempotencyKey,
        id: SegmentId,
        patch: SegmentFields,
        mask: &UpdateMask,
        sent_etag: &str,
    ) -> Result<Segment, Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let segment =
            current(&txn, id, sent_etag)
                .await?
                .updated(&patch, mask.paths(), domain::now());
        // Compare-and-set on the revision read: a concurrent writer makes this ABORTED too.
        if !store::update(&txn, &segment).await? {
            return Err(Error::etag_mismatch());
        }
        let m = Mutation::new(id.name(), segment);
        self.core().writes.commit(txn, key, m).await
    }

    /// Deletes a segment no campaign that has not ended uses.
    pub async fn delete_segment(
        &self,
        key: &IdempotencyKey,
        id: SegmentId,
        sent_etag: &str,
    ) -> Result<(), Error> {
        let txn = match self.core().writes.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let revision = current(&txn, id, sent_etag).await?.revision;
        if crate::store::campaigns::uses_segment(&txn, id).await? {
            return Err(error::precondition(
                "SEGMENT_IN_USE",
                "a campaign that has not ended uses this segment; cancel or complete it first",
            )
            .with_metadata("segment", id.name()));
        }
        if !store::delete(&txn, id, revision).await? {
            return Err(Error::etag_mismatch());
        }
        tracing::info!(segment = %id.0, "segment deleted");
        self.core()
            .writes
            .commit(txn, key, Mutation::new(id.name(), ()))
            .await
    }

    /// How many active members `rule` holds for now, and the first `size` of them.
    pub async fn preview_segment(
        &self,
        rule: &Rule,
        size: u32,
    ) -> Result<(u64, Vec<Member>), Error> {
        let limits = &self.settings().segments;
        let size = match size {
            0 => limits.default_preview_size,
            n => n.min(limits.max_preview_size),
        };
        let (keys, now) = (self.keys().await?, domain::now());
        let count = store::count(self.db(), rule, &keys, now).await?;
        let ids = store::member_page(self.db(), rule, &keys, now, None, size.into()).await?;
        Ok((
            count,
            crate::store::members::find_many(self.db(), &ids).await?,
        ))
    }

    /// A saved segment's members now (evaluated on demand), in customer id order.
    pub async fn list_segment_members(
        &self,
        id: SegmentId,
        page_size: u32,
        page_token: &str,
    ) -> Result<Page<Member>, Error> {
        let fingerprint = PageTokens::fingerprint(&["segment_members", &id.0.to_string()]);
        let tokens = &self.core().tokens;
        let after: Option<Uuid> = tokens.decode(page_token, &fingerprint)?;
        let segment = self.get_segment(id).await?;
        let limit = self.core().paging.limit(page_size);
        let (keys, now) = (self.keys().await?, domain::now());
        let mut ids =
            store::member_page(self.db(), &segment.rule, &keys, now, after, limit + 1).await?;
        let next_page_token = tokens.next_page(&mut ids, limit, &fingerprint, |id| *id);
        Ok(Page {
            items: crate::store::members::find_many(self.db(), &ids).await?,
            next_page_token,
        })
    }

    /// One run of the membership job: changed members against every segment, then the
    /// segments due for a full evaluation. Returns the moves (enters and exits) made.
    pub async fn track_membership_once(&self) -> Result<u64, Error> {
        let keys = self.keys().await?;
        let rm = &self.settings().read_model;
        let batch = u64::from(rm.membership_batch);
        let mut moves = 0;
        let mut segments = None;
        for _ in 0..MAX_DIRTY_BATCHES {
            let dirty = store::dirty_members(self.db(), batch).await?;
            if dirty.is_empty() {
                break;
            }
            if segments.is_none() {
                segments = Some(store::all(self.db()).await?);
            }
            let ids: Vec<Uuid> = dirty.iter().map(|(id, _)| *id).collect();
            let now = domain::now();
            let txn = self.db().begin().await?;
            for s in segments.iter().flatten() {
                moves += self
                    .reconcile(&txn, &keys, s, Scope::Ids(&ids), now)
                    .await?;
            }
            store::clear_dirty(&txn, &dirty).await?;
            txn.commit().await?;
            if (dirty.len() as u64) < batch {
                break;
            }
        }
        let now = domain::now();
        // At most a week (settings), so the conversion cannot fail.
        let every = chrono::Duration::seconds(rm.full_evaluation_secs.try_into().unwrap_or(0));
        for s in store::due_for_evaluation(self.db(), now - every).await? {
            moves += self.evaluate_in_full(&keys, &s, batch, now).await?;
        }
        if moves > 0 {
            tracing::info!(moves, "segment membership tracked");
        }
        Ok(moves)
    }

    /// Re-evaluates every member for `s`, one id range (and transaction) at a time.
    async fn evaluate_in_full(
        &self,
        keys: &Keys,
        s: &Segment,
        batch: u64,
        now: DateTime<Utc>,
    ) -> Result<u64, Error> {
        let (mut after, mut moves) = (None, 0);
        loop {
            let page = store::member_ids_page(self.db(), after, batch).await?;
            // The last range is open, so tracked rows of members no longer in the read model
            // (erased) leave too.
            let upto = if (page.len() as u64) < batch {
                None
            } else {
                page.last().copied()
            };
            let txn = self.db().begin().await?;
            moves += self
                .reconcile(&txn, keys, s, Scope::Range { after, upto }, now)
                .await?;
            if upto.is_none() {
                store::recount(&txn, s.id).await?;
                store::mark_evaluated(&txn, s.id, s.revision, now).await?;
            }
            txn.commit().await?;
            match upto {
                Some(u) => after = Some(u),
                None => return Ok(moves),
            }
        }
    }

    /// Makes `s`'s tracked members in `scope` the members its rule holds for now; each move
    /// is one row change, the count and one event.
    async fn reconcile(
        &self,
        txn: &DatabaseTransaction,
        keys: &Keys,
        s: &Segment,
        scope: Scope<'_>,
        now: DateTime<Utc>,
    ) -> Result<u64, Error> {
        let diff = || async {
            let matched = store::matching_in(txn, &s.rule, keys, now, scope).await?;
            let tracked = store::tracked_in(txn, s.id, scope).await?;
            Ok::<_, Error>(differences(&matched, &tracked))
        };
        if diff().await? == (vec![], vec![]) {
            return Ok(0); // the common case: nothing to write, no lock taken
        }
        // Moves are decided under the segment's row lock, on what is committed by then: a
        // concurrent run (another replica) waits and then sees this one's rows, and a
        // deleted segment gets none.
        if !store::lock(txn, s.id).await? {
            return Ok(0);
        }
        let (enter, exit) = diff().await?;
        let entered = store::enter(txn, s.id, &enter, now).await?;
        let left = store::exit(txn, s.id, &exit).await?;
        store::add_to_count(txn, s.id, entered.len() as i64 - left.len() as i64).await?;
        let moves = (entered.len() + left.len()) as u64;
        let changed = |customer: Uuid, entered: bool| {
            let customer = format!("customers/{customer}");
            let payload =
                ev::event::Payload::SegmentMembershipChanged(ev::SegmentMembershipChanged {
                    segment: s.id.name(),
                    customer: customer.clone(),
                    entered,
                    change_time: Some(to_timestamp(now)),
                });
            (customer, payload)
        };
        let events: Vec<_> = entered
            .into_iter()
            .map(|c| changed(c, true))
            .chain(left.into_iter().map(|c| changed(c, false)))
            .collect();
        if !events.is_empty() {
            self.events().append_about(txn, events).await?;
        }
        Ok(moves)
    }
}

/// (in `matched` not `tracked`, in `tracked` not `matched`); both sorted.
fn differences(matched: &[Uuid], tracked: &[Uuid]) -> (Vec<Uuid>, Vec<Uuid>) {
    use std::collections::BTreeSet;
    let m: BTreeSet<_> = matched.iter().collect();
    let t: BTreeSet<_> = tracked.iter().collect();
    (
        m.difference(&t).map(|id| **id).collect(),
        t.difference(&m).map(|id| **id).collect(),
    )
}

/// The segment as stored in `txn`, when `sent_etag` (empty: no precondition) is its etag.
async fn current(
    txn: &impl ConnectionTrait,
    id: SegmentId,
    sent_etag: &str,
) -> Result<Segment, Error> {
    let s = store::find(txn, id)
        .await?
        .ok_or_else(|| error::segment_not_found(id))?;
    etag::check(sent_etag, s.revision)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_the_enters_and_the_exits() {
        let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
        let (enter, exit) = differences(&ids[..3], &ids[1..]);
        assert_eq!((enter, exit), (vec![ids[0]], vec![ids[3]]));
    }
}
