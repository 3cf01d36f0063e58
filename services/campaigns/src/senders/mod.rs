//! Pluggable senders (helper H2 fills this module): `log` (default), `file`, `webhook`, `smtp`.
//! The dispatcher hands each [`OutboundMessage`] to [`Sender::send`]; the delivery id is the
//! idempotency key the receiving system sees (a message may be offered twice after a crash).
use crate::settings::SenderSettings;
use uuid::Uuid;

/// A rendered message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutboundMessage {
    /// The delivery's id: the idempotency key.
    pub delivery_id: Uuid,
    /// `campaigns/{campaign}/deliveries/{customer}`.
    pub delivery: String,
    pub campaign: String,
    pub customer: String,
    /// "email", "sms", "push" or "webhook".
    pub channel: String,
    pub variant: String,
    /// E-mail address, E.164 phone, or the customer name (push, webhook).
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Why a send did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Try again later (timeout, 5xx, connection refused, SMTP 4xx).
    Retryable(String),
    /// Will never succeed (4xx, SMTP 5xx, bad address).
    Permanent(String),
}

/// The configured sender.
#[derive(Clone)]
pub struct Sender {}

impl Sender {
    pub fn from_settings(_s: &SenderSettings) -> anyhow::Result<Self> {
        Ok(Self {})
    }

    pub async fn send(&self, m: &OutboundMessage) -> Result<(), SendError> {
        tracing::info!(delivery = m.delivery, channel = m.channel, "message sent");
        Ok(())
    }
}
