//! Satisfaction surveys: one answer per solved ticket; a low score reopens it for a
//! follow-up and may award goodwill points through loyalty.
use super::TicketsService;
use crate::clients::Goodwill;
use crate::domain::{CustomerId, Satisfaction, Status, TicketId, now};
use crate::error;
use crate::store;
use crm_platform::Error;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use sea_orm::TransactionTrait;
use sha2::{Digest, Sha256};

/// The loyalty request id of the goodwill award for survey `survey` of a ticket: derived
/// from both, so however often it is sent, loyalty awards it once per survey. (The first
/// survey keeps the id used before surveys were numbered, so an award pending across the
/// upgrade is not paid twice.)
pub fn goodwill_request_id(ticket: TicketId, survey: i32) -> uuid::Uuid {
    let seed = if survey <= 1 {
        format!("tickets.crm goodwill {}", ticket.name())
    } else {
        format!("tickets.crm goodwill {} survey {survey}", ticket.name())
    };
    let d = Sha256::digest(seed);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

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
                let when = if late { " (late)" } else { "" };
                format!("{} goodwill points awarded{when}.", s.goodwill_points)
            }
            Goodwill::Refused => "The loyalty service refused the goodwill points.".to_owned(),
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
        mut s: Satisfaction,
    ) -> Result<Satisfaction, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return self.current_answer(previous).await,
            Begun::Fresh(txn) => txn,
        };
        let now = now();
        let mut t = self.lock(&txn, id).await?;
        if t.survey_token != token && store::token_answered(&txn, id, token).await? {
            // An earlier survey (the ticket was solved again since): answered for good.
            return Err(error::survey_answered(&id.name()));
        }
        if t.solve_time.is_none()
            || t.survey_token.is_empty()
            || t.survey_token != token
            || t.merged_into.is_some()
        {
            return Err(error::survey_not_open(&id.name()));
        }
        if store::answer_of(&txn, id, t.survey).await?.is_some() {
            return Err(error::survey_answered(&id.name()));
        }
        s.ticket = id;
        s.survey = t.survey;
        s.survey_token = t.survey_token.clone();
        s.submit_time = now;
        s.goodwill_points = 0;
        let low = s.overall <= self.cfg.low_score_threshold;
        s.goodwill_pending = low && self.goodwill_owed();
        if !store::insert_satisfaction(&txn, &s).await? {
            return Err(error::survey_answered(&id.name()));
        }
        if low {
            let mut body = format!(
                "Low satisfaction score ({}/5): follow up with the customer by phone.",
                s.overall
            );
            if s.goodwill_pending {
                body.push_str(" Goodwill points follow when the loyalty service answers.");
            }
            self.note(&txn, id, body, now).await?;
            if t.status == Status::Solved {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goodwill_request_id_is_stable_per_ticket() {
        let a = TicketId::generate();
        let b = TicketId::generate();
        assert_eq!(goodwill_request_id(a, 1), goodwill_request_id(a, 1));
        assert_ne!(goodwill_request_id(a, 1), goodwill_request_id(b, 1));
        assert_ne!(goodwill_request_id(a, 1), goodwill_request_id(a, 2));
        // Survey 1 keeps the id of the time before surveys were numbered.
        assert_eq!(goodwill_request_id(a, 0), goodwill_request_id(a, 1));
    }
}
