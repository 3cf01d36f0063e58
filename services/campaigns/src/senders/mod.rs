//! Pluggable senders: `log` (default), `file`, `webhook`, `smtp`.
//! The dispatcher hands each [`OutboundMessage`] to [`Sender::send`]; the delivery id is the
//! idempotency key the receiving system sees (a message may be offered twice after a crash).
//! One call is one attempt, bounded by `timeout_ms`; the dispatcher retries with backoff.
//! Error texts never carry the address, subject, body or a server's free-text answer (which
//! often echoes the address): they end up in deliveries and logs.
mod file;
mod log;
mod smtp;
mod webhook;

use crate::settings::SenderSettings;
use anyhow::Context as _;
use std::sync::Arc;
use std::time::Duration;
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

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Retryable(why) => write!(f, "retryable: {why}"),
            Self::Permanent(why) => write!(f, "permanent: {why}"),
        }
    }
}

impl std::error::Error for SendError {}

/// The configured sender (cheap to clone).
#[derive(Clone)]
pub struct Sender {
    kind: Arc<Kind>,
    timeout: Duration,
}

enum Kind {
    Log,
    File(file::FileSender),
    Webhook(webhook::WebhookSender),
    Smtp(smtp::SmtpSender),
}

impl Sender {
    /// Builds the sender of `[campaigns.sender]`, reading secret files and opening the output
    /// file now, so a misconfiguration stops the start, not the first send.
    pub fn from_settings(s: &SenderSettings) -> anyhow::Result<Self> {
        let kind = match s.kind.as_str() {
            "log" => Kind::Log,
            "file" => Kind::File(file::FileSender::open(&s.file_path)?),
            "webhook" => Kind::Webhook(webhook::WebhookSender::new(s)?),
            "smtp" => Kind::Smtp(smtp::SmtpSender::new(s)?),
            other => anyhow::bail!("unknown sender kind {other:?}"),
        };
        Ok(Self {
            kind: Arc::new(kind),
            timeout: Duration::from_millis(s.timeout_ms.max(1)),
        })
    }

    /// The kind configured: "log", "file", "webhook" or "smtp".
    pub fn kind(&self) -> &'static str {
        match *self.kind {
            Kind::Log => "log",
            Kind::File(_) => "file",
            Kind::Webhook(_) => "webhook",
            Kind::Smtp(_) => "smtp",
        }
    }

    /// One attempt to hand `m` over, within the timeout.
    pub async fn send(&self, m: &OutboundMessage) -> Result<(), SendError> {
        let attempt = async {
            match &*self.kind {
                Kind::Log => {
                    log::send(m);
                    Ok(())
                }
                Kind::File(f) => f.send(m).await,
                Kind::Webhook(w) => w.send(m).await,
                Kind::Smtp(s) => s.send(m).await,
            }
        };
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => Err(SendError::Retryable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

/// A secret from `file` (trimmed) when set, else `inline`.
fn secret(inline: &str, file: &str, what: &str) -> anyhow::Result<String> {
    if file.is_empty() {
        return Ok(inline.to_owned());
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {what} {file}"))?;
    Ok(text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_win_and_are_trimmed() {
        let path = std::env::temp_dir().join(format!("crm-secret-{}", Uuid::new_v4()));
        std::fs::write(&path, "s3cret\n").expect("write");
        let file = path.to_str().expect("utf-8");
        assert_eq!(secret("inline", file, "x").expect("read"), "s3cret");
        assert_eq!(secret("inline", "", "x").expect("inline"), "inline");
        assert!(secret("inline", "/nonexistent/crm-secret", "x").is_err());
        std::fs::remove_file(path).ok();
    }
}
