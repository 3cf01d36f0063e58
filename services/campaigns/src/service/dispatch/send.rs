//! The sender run: queued deliveries of running campaigns are leased, opened, handed to the
//! sender (several at once) and finished: sent (with MessageSent in the same transaction),
//! retried with backoff, or failed after `max_attempts`.
use super::throttle::message_aad;
use crate::domain::campaign::retry_delay;
use crate::domain::{self, CustomerId};
use crate::senders::{OutboundMessage, SendError};
use crate::service::CampaignService;
use crate::store::{self, deliveries::Attempt, entities::delivery};
use crm_platform::Error;
use crm_platform::validate::to_timestamp;
use crm_proto::events as ev;
use futures::StreamExt;
use sea_orm::TransactionTrait;

/// Sends in flight at once per run (the sender's calls are IO-bound).
const IN_FLIGHT: usize = 32;
/// Running campaigns whose queued messages are claimed per query.
const CAMPAIGNS_PER_PAGE: u64 = 500;

impl CampaignService {
    /// One run; returns the messages sent.
    pub async fn send_once(&self) -> Result<u64, Error> {
        let s = &self.settings().sending;
        let lease = chrono::Duration::seconds(i64::try_from(s.lease_secs).unwrap_or(60));
        let mut budget = u64::from(s.dispatch_batch);
        let mut claimed = Vec::new();
        // The queued messages of every running campaign, a page of campaigns at a time.
        let mut pages = store::campaigns::RunningPages::new(CAMPAIGNS_PER_PAGE);
        while budget > 0
            && let Some(page) = pages.next(self.db()).await?
        {
            let ids: Vec<uuid::Uuid> = page.iter().map(|c| c.id.0).collect();
            let rows =
                store::deliveries::claim_queued(self.db(), &ids, domain::now(), lease, budget)
                    .await?;
            budget -= (rows.len() as u64).min(budget);
            claimed.extend(rows);
        }
        if claimed.is_empty() {
            return Ok(0);
        }
        let keys = self.keys().await?;
        let outcomes: Vec<Outcome> = futures::stream::iter(claimed)
            .map(|row| {
                let keys = keys.clone();
                async move { self.attempt(row, &keys).await }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        self.finish(outcomes).await
    }

    /// One attempt at one leased delivery (nothing written yet).
    async fn attempt(&self, row: delivery::Model, keys: &crm_platform::pii::Keys) -> Outcome {
        let s = &self.settings().sending;
        let message = match opened(&row, keys) {
            Ok(m) => m,
            Err(e) => {
                // Unreadable for good (a retired key, a damaged row): failed, not retried.
                tracing::error!(delivery = %row.id, error = %e, "queued message does not open");
                let attempt = Attempt::Failed {
                    detail: "the queued message could not be read".into(),
                };
                return Outcome {
                    row,
                    attempt,
                    campaign: None,
                    at: domain::now(),
                };
            }
        };
        let result = self.sender().send(&message).await;
        let at = domain::now();
        if let Err(e) = &result {
            tracing::warn!(delivery = %row.id, attempts = row.attempts, error = ?e, "send attempt failed");
        }
        let attempt = match result {
            Ok(()) => Attempt::Sent,
            Err(SendError::Retryable(why)) if (row.attempts as u32) < s.max_attempts => {
                Attempt::Retry {
                    at: at
                        + retry_delay(row.attempts.unsigned_abs(), s.retry_base_ms, s.retry_max_ms),
                    detail: bounded(&why),
                }
            }
            Err(SendError::Retryable(why) | SendError::Permanent(why)) => Attempt::Failed {
                detail: bounded(&why),
            },
        };
        Outcome {
            row,
            attempt,
            campaign: Some(message.campaign),
            at,
        }
    }

    /// Writes a run's outcomes in one transaction, each fenced by its attempt number (a run
    /// whose lease ran out changes nothing: the other run's result stands), with
    /// MessageSent for each one sent. Returns how many were sent.
    async fn finish(&self, outcomes: Vec<Outcome>) -> Result<u64, Error> {
        let txn = self.db().begin().await?;
        let mut sent = Vec::new();
        for o in outcomes {
            let was_sent = matches!(o.attempt, Attempt::Sent);
            if store::deliveries::finish_attempt(&txn, o.row.id, o.row.attempts, o.attempt, o.at)
                .await?
                && was_sent
                && let Some(campaign) = o.campaign
            {
                let customer = CustomerId(o.row.customer_id);
                let payload = ev::event::Payload::MessageSent(ev::MessageSent {
                    campaign,
                    customer: customer.name(),
                    variant: o.row.variant.clone(),
                    send_time: Some(to_timestamp(o.at)),
                });
                sent.push((customer.name(), payload));
            }
        }
        let n = sent.len() as u64;
        self.events().append_about(&txn, sent).await?;
        txn.commit().await?;
        Ok(n)
    }
}

/// What one attempt came to, written by [`CampaignService::finish`].
struct Outcome {
    row: delivery::Model,
    attempt: Attempt,
    /// The message's campaign (None: it did not open).
    campaign: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
}

/// The sealed message of a leased delivery.
fn opened(row: &delivery::Model, keys: &crm_platform::pii::Keys) -> Result<OutboundMessage, Error> {
    let bytes = row.message.as_ref().ok_or_else(|| {
        Error::internal(anyhow::anyhow!("queued delivery {} has no message", row.id))
    })?;
    let plain = keys.unseal(
        row.pii_key.as_deref(),
        message_aad(row.id).as_bytes(),
        bytes,
    )?;
    serde_json::from_slice(&plain).map_err(Error::internal)
}

/// A sender's error text, cut to the column's size (it never holds the message itself).
fn bounded(why: &str) -> String {
    why.chars().take(400).collect()
}
