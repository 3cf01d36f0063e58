//! Satisfaction surveys: one answer per solved ticket; a low score reopens it for a
//! follow-up and may award goodwill points through loyalty.
use super::TicketsService;
use crate::clients::Goodwill;
use crate::domain::survey::{self, Refusal, goodwill_request_id};
use crate::domain::{CustomerId, Satisfaction, Status, TicketId, now};
use crate::error;
use crate::store;
use crm_platform::Error;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use sea_orm::TransactionTrait;

/// What became of one attempt to settle a pending goodwill award.
enum Award {
    /// Loyalty answered and this caller recorded it.
    Settled(Satisfaction),
    /// Loyalty is still away: the award stays pending.
    Later,
    /// Another caller recorded it first.
    Elsewhere,
}

impl TicketsService {
    /// Whether a low score earns goodwill points here at all.
    fn goodwill_owed(&self) -> bool {
        self.cfg.goodwill_points > 0 && self.clients.loyalty_configured()
    }

    /// Asks loyalty for the goodwill award of an answer (the same request however often),
    /// then records the outcome in its own short transaction: the answer is settled with a
    /// conditional update (still pending), so two callers (the answering call and the
    /// background pass, or two replicas) write one note, and loyalty sees one request id
    /// from both and awards once. No connection or row lock is held while loyalty answers.
    async fn award_and_settle(
        &self,
        customer: CustomerId,
        mut s: Satisfaction,
        late: bool,
    ) -> Result<Award, Error> {
        let answer = self
            .clients
            .goodwill(
                customer,
                self.cfg.goodwill_points,
                &format!("low satisfaction score on {}", s.ticket),
                goodwill_request_id(s.ticket, s.survey),
            )
            .await;
        let body = match answer {
            Goodwill::Later => return Ok(Award::Later),
            Goodwill::Awarded => {
                s.goodwill_points = self.cfg.goodwill_points;
                survey::goodwill_note(Some(s.goodwill_points), late)
            }
            Goodwill::Refused => survey::goodwill_note(None, late),
        };
        s.goodwill_pending = false;
        let txn = self.db.begin().await?;
        let settled = store::settle_goodwill(&txn, &s).await?;
        if settled {
            self.note(&txn, s.ticket, body, now()).await?;
        }
        txn.commit().await?;
        Ok(if settled {
            Award::Settled(s)
        } else {
            Award::Elsewhere
        })
    }

    /// Awards the goodwill points owed for low scores that came in while loyalty was away
    /// (or whose answering call ended before loyalty answered). Stops at the first "later"
    /// (loyalty is still away). Returns how many were settled.
    pub async fn award_pending_goodwill(&self) -> Result<u64, Error> {
        if !self.goodwill_owed() {
            return Ok(0);
        }
        let mut settled = 0;
        for s in store::pending_goodwill(&self.db, 100).await? {
            let Some(t) = store::find_ticket(&self.db, s.ticket).await? else {
                continue;
            };
            match self.award_and_settle(t.customer, s, true).await? {
                Award::Settled(_) => settled += 1,
                Award::Later => break,
                Award::Elsewhere => {}
            }
        }
        Ok(settled)
    }

    /// Stores the answer and, for a low score, reopens the ticket and marks the goodwill
    /// award pending, all in one transaction; loyalty is asked only after that commit (a
    /// slow or unreachable loyalty never holds the ticket's row lock or a pooled
    /// connection), and its answer is recorded afterwards. If the call ends before loyalty
    /// answers, the background pass ([`TicketsService::award_pending_goodwill`]) awards it.
    pub async fn submit_satisfaction(
        &self,
        key: &IdempotencyKey,
        id: TicketId,
        token: &str,
        s: Satisfaction,
    ) -> Result<Satisfaction, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return self.current_answer(previous).await,
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
            self.goodwill_owed(),
        );
        if !store::insert_satisfaction(&txn, &s).await? {
            return Err(refused(Refusal::Answered));
        }
        if let Some(f) = follow_up {
            self.note(&txn, id, f.note, now).await?;
            if f.reopens {
                self.transition(&txn, &mut t, Status::Open, now, false)
                    .await?;
                self.save(&txn, &mut t, now).await?;
            }
        }
        let s = self.commit(txn, key, &id.name(), s).await?;
        if !s.goodwill_pending {
            return Ok(s);
        }
        match self.award_and_settle(t.customer, s.clone(), false).await {
            Ok(Award::Settled(settled)) => Ok(settled),
            Ok(Award::Later | Award::Elsewhere) => self.current_answer(s).await,
            // The answer is stored; the award stays pending for the background pass.
            Err(e) => {
                tracing::warn!(ticket = %id, error = %e, "goodwill outcome not recorded; the pass retries");
                Ok(s)
            }
        }
    }

    /// The stored state of an answer (its goodwill may have been settled since `s`).
    async fn current_answer(&self, s: Satisfaction) -> Result<Satisfaction, Error> {
        Ok(store::answer_of(&self.db, s.ticket, s.survey)
            .await?
            .unwrap_or(s))
    }
}
