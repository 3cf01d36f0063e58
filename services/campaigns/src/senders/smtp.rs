//! The `smtp` sender (lettre over tokio, rustls with ring): plain-text e-mail from
//! `smtp_from`, `Message-ID: <delivery id@from domain>` so a resent message is recognisably the
//! same one. Connections are pooled by lettre; each send is one SMTP transaction.
use super::{OutboundMessage, SendError, secret};
use crate::settings::SenderSettings;
use anyhow::Context as _;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

pub(super) struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The right-hand side of Message-IDs.
    id_domain: String,
}

impl SmtpSender {
    pub(super) fn new(s: &SenderSettings) -> anyhow::Result<Self> {
        let from: Mailbox = s
            .smtp_from
            .parse()
            .with_context(|| format!("smtp_from {:?} is not a mailbox", s.smtp_from))?;
        let tls = match s.smtp_tls.as_str() {
            "tls" => Tls::Wrapper(tls_parameters(s)?),
            "starttls" => Tls::Required(tls_parameters(s)?),
            "none" => Tls::None,
            other => anyhow::bail!("smtp_tls must be none, starttls or tls, not {other:?}"),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.smtp_host)
            .tls(tls)
            .port(s.smtp_port)
            .timeout(Some(Duration::from_millis(s.timeout_ms.max(1))));
        if !s.smtp_username.is_empty() {
            let password = secret(
                &s.smtp_password,
                &s.smtp_password_file,
                "smtp_password_file",
            )?;
            builder = builder.credentials(Credentials::new(s.smtp_username.clone(), password));
        }
        Ok(Self {
            transport: builder.build(),
            id_domain: from.email.domain().to_owned(),
            from,
        })
    }

    pub(super) async fn send(&self, m: &OutboundMessage) -> Result<(), SendError> {
        if m.channel != "email" {
            return Err(SendError::Permanent(format!(
                "the smtp sender sends e-mail, not {}",
                m.channel
            )));
        }
        let to: Mailbox = m
            .to
            .parse()
            .map_err(|_| SendError::Permanent("the recipient is not an e-mail address".into()))?;
        let message = Message::builder()
            .message_id(Some(message_id(m, &self.id_domain)))
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| SendError::Permanent(format!("building the e-mail: {e}")))?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(classify)
    }
}

/// The server's name checked against `smtp_ca_file`'s CAs, or the webpki roots.
fn tls_parameters(s: &SenderSettings) -> anyhow::Result<TlsParameters> {
    let mut params = TlsParameters::builder(s.smtp_host.clone());
    if !s.smtp_ca_file.is_empty() {
        let pem = std::fs::read(&s.smtp_ca_file)
            .with_context(|| format!("reading smtp_ca_file {}", s.smtp_ca_file))?;
        let ca = Certificate::from_pem(&pem)
            .with_context(|| format!("{}: not PEM certificates", s.smtp_ca_file))?;
        params = params
            .certificate_store(CertificateStore::None)
            .add_root_certificate(ca);
    }
    Ok(params.build_rustls()?)
}

/// `<delivery id@domain>`: stable across attempts of one delivery.
pub(super) fn message_id(m: &OutboundMessage, domain: &str) -> String {
    format!("<{}@{domain}>", m.delivery_id)
}

/// SMTP 5xx: never; 4xx, timeouts, connection and TLS failures: later. Only the reply code is
/// kept: a server's text often echoes the address.
fn classify(e: lettre::transport::smtp::Error) -> SendError {
    let code = e.status().map(|c| c.to_string());
    if e.is_permanent() {
        SendError::Permanent(format!("smtp answered {}", code.unwrap_or_default()))
    } else if e.is_transient() {
        SendError::Retryable(format!("smtp answered {}", code.unwrap_or_default()))
    } else if e.is_timeout() {
        SendError::Retryable("smtp timed out".into())
    } else if e.is_tls() {
        SendError::Retryable("smtp tls failed".into())
    } else {
        SendError::Retryable("smtp connection failed".into())
    }
}
