//! Satisfaction surveys: one answer per solved ticket; a low score reopens it for a
//! follow-up and may award goodwill points through loyalty.
use super::TicketsService;
use crate::clients::Goodwill;
use crate::domain::{Satisfaction, Status, Ticket, TicketId, now};
use crate::error;
use crate::store;
use crm_platform::Error;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use sea_orm::TransactionTrait;
use sha2::{Digest, Sha256};

/// The loyalty request id of a ticket's goodwill award: derived from the ticket, so however
/// often it is sent, loyalty awards it once.
pub fn goodwill_request_id(ticket: TicketId) -> uuid::Uuid {
    let d = Sha256::digest(format!("tickets.crm goodwill {}", ticket.name()));
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

impl TicketsService {
    /// Whether a low score earns goodwill points here at all.
    fn goodwill_owed(&self) -> bool {
        self.cfg.goodwill_points > 0 && self.clients.loyalty_configured()
    }

    /// Asks loyalty for the goodwill award of `t` (the same request however often).
    async fn award_goodwill(&self, t: &Ticket) -> Goodwill {
        self.clients
            .goodwill(
                t.customer,
                self.cfg.goodwill_points,
                &format!("low satisfaction score on {}", t.id),
                goodwill_request_id(t.id),
            )
            .await
    }

    /// Awards the goodwill points owed for low scores that came in while loyalty was away.
    /// Stops at the first "later" (loyalty is still away). Each award is settled with a
    /// conditional update, so two passes (replicas) write one note; loyalty sees the same
    /// request id from both and awards once. Returns how many were settled.
    pub async fn award_pending_goodwill(&self) -> Result<u64, Error> {
        if !self.goodwill_owed() {
            return Ok(0);
        }
        let mut settled = 0;
        for mut s in store::pending_goodwill(&self.db, 100).await? {
            let Some(t) = store::find_ticket(&self.db, s.ticket).await? else {
                continue;
            };
            let body = match self.award_goodwill(&t).await {
                Goodwill::Later => break,
                Goodwill::Awarded => {
                    s.goodwill_points = self.cfg.goodwill_points;
                    format!("{} goodwill points awarded (late).", s.goodwill_points)
                }
                Goodwill::Refused => "The loyalty service refused the goodwill points.".to_owned(),
            };
            s.goodwill_pending = false;
            let txn = self.db.begin().await?;
            if store::settle_goodwill(&txn, &s).await? {
                self.note(&txn, s.ticket, body, now()).await?;
                settled += 1;
            }
            txn.commit().await?;
        }
        Ok(settled)
    }

    pub async fn submit_satisfaction(
        &self,
        key: &IdempotencyKey,
        id: TicketId,
        token: &str,
        mut s: Satisfaction,
    ) -> Result<Satisfaction, Error> {
        let txn = match self.begin(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn,
        };
        let now = now();
        let mut t = self.lock(&txn, id).await?;
        if t.solve_time.is_none()
            || t.survey_token.is_empty()
            || t.survey_token != token
            || t.merged_into.is_some()
        {
            return Err(error::survey_not_open(&id.name()));
        }
        if !store::satisfaction_of(&txn, &[id]).await?.is_empty() {
            return Err(error::survey_answered(&id.name()));
        }
        s.ticket = id;
        s.submit_time = now;
        s.goodwill_points = 0;
        s.goodwill_pending = false;
        let low = s.overall <= self.cfg.low_score_threshold;
        if low && self.goodwill_owed() {
            // Inside the transaction on purpose: the request id is deterministic, so if this
            // transaction fails after the award, the retry replays it at loyalty. Loyalty
            // unreachable: the answer is stored with the award pending, and the background
            // pass ([`TicketsService::award_pending_goodwill`]) asks again.
            match self.award_goodwill(&t).await {
                Goodwill::Awarded => s.goodwill_points = self.cfg.goodwill_points,
                Goodwill::Later => s.goodwill_pending = true,
                Goodwill::Refused => {}
            }
        }
        if !store::insert_satisfaction(&txn, &s).await? {
            return Err(error::survey_answered(&id.name()));
        }
        if low {
            let mut body = format!(
                "Low satisfaction score ({}/5): follow up with the customer by phone.",
                s.overall
            );
            if s.goodwill_points > 0 {
                body.push_str(&format!(" {} goodwill points awarded.", s.goodwill_points));
            } else if s.goodwill_pending {
                body.push_str(" Goodwill points follow when the loyalty service answers.");
            }
            self.note(&txn, id, body, now).await?;
            if t.status == Status::Solved {
                self.transition(&txn, &mut t, Status::Open, now, false)
                    .await?;
                self.save(&txn, &mut t, now).await?;
            }
        }
        self.commit(txn, key, &id.name(), s).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goodwill_request_id_is_stable_per_ticket() {
        let a = TicketId::generate();
        let b = TicketId::generate();
        assert_eq!(goodwill_request_id(a), goodwill_request_id(a));
        assert_ne!(goodwill_request_id(a), goodwill_request_id(b));
    }
}
