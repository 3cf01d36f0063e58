//! Satisfaction surveys: one answer per solved ticket; a low score reopens it for a
//! follow-up and earns goodwill points, which travel to loyalty in the answer's event
//! (SatisfactionSubmitted): tickets never calls loyalty for them.
use super::TicketsService;
use crate::domain::survey::{self, Refusal};
use crate::domain::{Satisfaction, Status, TicketId, now};
use crate::error;
use crate::events;
use crate::store;
use crm_platform::Error;
use crm_platform::idempotency::{Begun, IdempotencyKey};

impl TicketsService {
    /// Stores the answer and, for a low score, reopens the ticket with a follow-up note and
    /// grants the configured goodwill points, all in one transaction with the answer's event
    /// (loyalty awards the points from it, once). A refused or replayed answer publishes
    /// nothing.
    pub async fn submit_satisfaction(
        &self,
        key: &IdempotencyKey,
        id: TicketId,
        token: &str,
        s: Satisfaction,
    ) -> Result<Satisfaction, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let now = now();
        let mut t = self.lock(&txn, id).await?;
        let refused = |r| match r {
            Refusal::Answered => error::survey_answered(&id.name()),
            Refusal::NotOpen => error::survey_not_open(&id.name()),
        };
        let earlier_answered =
            t.survey_token != token && store::token_answered(&txn, id, token).await?;
        survey::accepts(&t, token, earlier_answered).map_err(refused)?;
        if store::answer_of(&txn, id, t.survey).await?.is_some() {
            return Err(refused(Refusal::Answered));
        }
        let (s, follow_up) = survey::record(
            &t,
            s,
            now,
            self.cfg.low_score_threshold,
            self.cfg.goodwill_points,
        );
        if !store::insert_satisfaction(&txn, &s).await? {
            return Err(refused(Refusal::Answered));
        }
        if let Some(f) = follow_up {
            self.note(&txn, id, f.note, now).await?;
            if let Some(body) = f.goodwill_note {
                self.note(&txn, id, body, now).await?;
            }
            if f.reopens {
                let from = t.status;
                self.transition(&txn, &mut t, Status::Open, now, false)
                    .await?;
                self.save(&txn, &mut t, from, "", now).await?;
            }
        }
        self.events
            .append(
                &txn,
                id,
                vec![events::satisfaction_submitted(t.customer, &s)],
            )
            .await?;
        self.commit(txn, key, &id.name(), s).await
    }
}

/// Answers handed over per transaction by [`TicketsService::hand_over_pending_goodwill`].
const HAND_OVER_PAGE: u64 = 100;

impl TicketsService {
    /// Hands the goodwill awards left pending by the earlier, synchronous design (answers
    /// stored while loyalty was away) to the backbone: each gets its points, its note and its
    /// SatisfactionSubmitted event in one transaction, settled with a conditional update so
    /// two replicas starting at once hand each over once. Runs at start until none is left;
    /// returns how many were handed over.
    pub async fn hand_over_pending_goodwill(&self) -> Result<u64, Error> {
        use sea_orm::TransactionTrait;
        let mut handed = 0;
        loop {
            let page = store::pending_goodwill(&self.db, HAND_OVER_PAGE).await?;
            let n = page.len() as u64;
            for mut s in page {
                let txn = self.db.begin().await?;
                s.goodwill_pending = false;
                s.goodwill_points = self.cfg.goodwill_points.max(0);
                // The conditional write first: it takes the row (and SQLite's write lock) at
                // once, so a replica doing the same waits instead of failing an upgrade.
                let settled = store::settle_goodwill(&txn, &s).await?;
                // Tickets are never deleted; an answer without one is settled with no event.
                if settled && let Some(t) = store::find_ticket(&txn, s.ticket).await? {
                    if s.goodwill_points > 0 {
                        let body = survey::goodwill_note(s.goodwill_points);
                        self.note(&txn, s.ticket, body, now()).await?;
                    }
                    self.events
                        .append(
                            &txn,
                            s.ticket,
                            vec![events::satisfaction_submitted(t.customer, &s)],
                        )
                        .await?;
                    handed += 1;
                }
                txn.commit().await?;
            }
            if n < HAND_OVER_PAGE {
                return Ok(handed);
            }
        }
    }
}
