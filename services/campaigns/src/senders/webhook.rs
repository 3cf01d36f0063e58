//! The `webhook` sender: an HTTP/1.1 POST of the message as JSON to `webhook_url` (http or
//! https; hyper over tokio-rustls with ring, like the platform's JWKS fetch), signed so the
//! receiver can tell it is ours and unchanged, with the delivery id as `Idempotency-Key`.
//!
//! `X-CRM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`: the
//! timestamp is signed too, so a receiver can refuse old replays.
use super::{OutboundMessage, SendError, secret};
use crate::settings::SenderSettings;
use anyhow::{Context as _, bail};
use hmac::{Hmac, KeyInit, Mac};
use http::{StatusCode, Uri, header};
use http_body_util::Full;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use sha2::Sha256;
use std::fmt::Write as _;
use std::sync::Arc;

pub const SIGNATURE_HEADER: &str = "x-crm-signature";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

pub(super) struct WebhookSender {
    host: String,
    port: u16,
    authority: String,
    path: String,
    /// Some for https.
    tls: Option<Arc<ClientConfig>>,
    secret: Vec<u8>,
}

impl WebhookSender {
    pub(super) fn new(s: &SenderSettings) -> anyhow::Result<Self> {
        let uri: Uri = s.webhook_url.parse().context("webhook_url is not a URL")?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => bail!("webhook_url must be http:// or https://"),
        };
        let host = uri.host().context("webhook_url has no host")?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let secret = secret(
            &s.webhook_secret,
            &s.webhook_secret_file,
            "webhook_secret_file",
        )?;
        anyhow::ensure!(
            !secret.is_empty(),
            "webhook_secret or webhook_secret_file is required (the body is signed)"
        );
        Ok(Self {
            port: uri.port_u16().unwrap_or(if https { 443 } else { 80 }),
            authority: uri.authority().map_or(host.clone(), |a| a.to_string()),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            tls: https
                .then(|| client_config(&s.webhook_ca_file))
                .transpose()?,
            host,
            secret: secret.into_bytes(),
        })
    }

    pub(super) async fn send(&self, m: &OutboundMessage) -> Result<(), SendError> {
        let body =
            serde_json::to_vec(m).map_err(|e| SendError::Permanent(format!("encoding: {e}")))?;
        let signature = sign(&self.secret, chrono::Utc::now().timestamp(), &body);
        let req = http::Request::post(self.path.as_str())
            .header(header::HOST, self.authority.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, "crm-campaigns")
            .header(IDEMPOTENCY_HEADER, m.delivery_id.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(Full::new(bytes::Bytes::from(body)))
            .map_err(|e| SendError::Permanent(format!("building the request: {e}")))?;
        let status = self.post(req).await?;
        classify(status)
    }

    async fn post(&self, req: http::Request<Full<bytes::Bytes>>) -> Result<StatusCode, SendError> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                SendError::Retryable(format!("connecting to {}: {}", self.authority, e.kind()))
            })?;
        tcp.set_nodelay(true).ok();
        match &self.tls {
            None => exchange(hyper_util::rt::TokioIo::new(tcp), req).await,
            Some(config) => {
                let name = ServerName::try_from(self.host.clone()).map_err(|_| {
                    SendError::Permanent("webhook_url's host is not a TLS name".into())
                })?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| {
                        SendError::Retryable(format!("tls handshake with {}: {e}", self.authority))
                    })?;
                exchange(hyper_util::rt::TokioIo::new(tls), req).await
            }
        }
    }
}

/// The `X-CRM-Signature` value for `body` sent at `unix` seconds.
pub fn sign(secret: &[u8], unix: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("hmac takes any key length"));
    mac.update(format!("{unix}.").as_bytes());
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = format!("t={unix},v1=");
    for b in tag.iter() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// 2xx: sent; 408, 429 and 5xx: try again; anything else (4xx, redirects, which are not
/// followed): will never succeed.
fn classify(status: StatusCode) -> Result<(), SendError> {
    if status.is_success() {
        Ok(())
    } else if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Err(SendError::Retryable(format!("webhook answered {status}")))
    } else {
        Err(SendError::Permanent(format!("webhook answered {status}")))
    }
}

/// One request on a fresh HTTP/1.1 connection; the answer's body is not read (only its status
/// matters, and it may echo personal data).
async fn exchange<I>(io: I, req: http::Request<Full<bytes::Bytes>>) -> Result<StatusCode, SendError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| SendError::Retryable(format!("http handshake: {e}")))?;
    let conn = tokio::spawn(conn);
    let outcome = sender
        .send_request(req)
        .await
        .map(|resp| resp.status())
        .map_err(|e| SendError::Retryable(format!("sending: {e}")));
    conn.abort();
    outcome
}

/// rustls (ring) trusting `ca_file`, or the webpki roots when empty; ALPN http/1.1.
fn client_config(ca_file: &str) -> anyhow::Result<Arc<ClientConfig>> {
    let roots = if ca_file.is_empty() {
        RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned())
    } else {
        let mut roots = RootCertStore::empty();
        let certs = CertificateDer::pem_file_iter(ca_file)
            .with_context(|| format!("reading webhook_ca_file {ca_file}"))?;
        for cert in certs {
            let cert = cert.with_context(|| format!("{ca_file}: not PEM certificates"))?;
            roots
                .add(cert)
                .with_context(|| format!("{ca_file}: not a usable CA certificate"))?;
        }
        anyhow::ensure!(!roots.is_empty(), "{ca_file}: no certificate in it");
        roots
    };
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(StatusCode::OK), Ok(()));
        assert_eq!(classify(StatusCode::ACCEPTED), Ok(()));
        for s in [408, 429, 500, 502, 503] {
            let status = StatusCode::from_u16(s).expect("status");
            assert!(
                matches!(classify(status), Err(SendError::Retryable(_))),
                "{s}"
            );
        }
        for s in [301, 400, 401, 403, 404, 410, 422] {
            let status = StatusCode::from_u16(s).expect("status");
            assert!(
                matches!(classify(status), Err(SendError::Permanent(_))),
                "{s}"
            );
        }
    }

    #[test]
    fn the_signature_covers_time_and_body() {
        // RFC 4231 style check against an independent computation is in tests/senders.rs;
        // here: format, and that time and body both change it.
        let a = sign(b"k", 1_700_000_000, b"{}");
        assert!(a.starts_with("t=1700000000,v1="), "{a}");
        assert_eq!(a.len(), "t=1700000000,v1=".len() + 64);
        assert_ne!(a, sign(b"k", 1_700_000_001, b"{}"));
        assert_ne!(a, sign(b"k", 1_700_000_000, b"{ }"));
        assert_ne!(a, sign(b"k2", 1_700_000_000, b"{}"));
    }
}
