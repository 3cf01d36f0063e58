//! Public keys of a token issuer: a JWKS document from a file or an http(s) URL, kept fresh by
//! a background task (every `jwks_refresh_secs`, sooner when a token names an unknown key id,
//! never more than once per [`MIN_REFETCH`]). A fetch that fails keeps the keys already held.
use crate::auth::settings::IssuerSettings;
use anyhow::{Context as _, bail};
use http_body_util::BodyExt as _;
use jsonwebtoken::jwk::{JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// Longest wait for one fetch (connect, TLS, answer).
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JWKS document read.
const MAX_JWKS_BYTES: usize = 1 << 20;
/// Unknown key ids trigger at most one fetch per this period (a flood of made-up kids must not
/// become a flood of fetches).
pub const MIN_REFETCH: Duration = Duration::from_secs(10);
/// Retry period while no keys could be loaded yet.
const RETRY_EMPTY: Duration = Duration::from_secs(2);

/// One verification key.
struct Key {
    kid: Option<String>,
    key: DecodingKey,
}

/// The parsed signing keys of one JWKS document (keys for encryption or of unsupported types
/// are skipped).
#[derive(Default)]
pub struct KeySet(Vec<Key>);

impl KeySet {
    pub fn parse(json: &[u8]) -> anyhow::Result<Self> {
        let set: JwkSet = serde_json::from_slice(json).context("not a JWKS document")?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                continue;
            }
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => keys.push(Key {
                    kid: jwk.common.key_id.clone(),
                    key,
                }),
                Err(e) => tracing::debug!(error = %e, "skipping a jwks key"),
            }
        }
        if keys.is_empty() {
            bail!("the JWKS document has no usable signing key");
        }
        Ok(Self(keys))
    }

    /// The key for a token's `kid` and `alg`; without a `kid`, the only key of the family.
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&DecodingKey> {
        let family = alg.family();
        let mut fitting = self.0.iter().filter(|k| k.key.family() == family);
        match kid {
            Some(kid) => fitting
                .find(|k| k.kid.as_deref() == Some(kid))
                .map(|k| &k.key),
            None => match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(&only.key),
                _ => None,
            },
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The current keys of one issuer, refreshed by [`IssuerKeys::refresh_forever`].
pub struct IssuerKeys {
    settings: IssuerSettings,
    current: RwLock<Option<Arc<KeySet>>>,
    wanted: Notify,
}

impl IssuerKeys {
    pub fn new(settings: IssuerSettings) -> Self {
        Self {
            settings,
            current: RwLock::new(None),
            wanted: Notify::new(),
        }
    }

    /// The keys held, if any were ever loaded.
    pub fn current(&self) -> Option<Arc<KeySet>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// Asks the refresher for a fetch now (a token named a key id not held).
    pub fn want_refresh(&self) {
        self.wanted.notify_one();
    }

    /// Loads the keys once; on success they replace the ones held.
    pub async fn load(&self) -> anyhow::Result<usize> {
        let doc = if self.settings.jwks_file.is_empty() {
            tokio::time::timeout(FETCH_TIMEOUT, fetch(&self.settings))
                .await
                .context("timed out")??
        } else {
            tokio::fs::read(&self.settings.jwks_file)
                .await
                .with_context(|| format!("reading {}", self.settings.jwks_file))?
        };
        let keys = KeySet::parse(&doc)?;
        let n = keys.len();
        if let Ok(mut c) = self.current.write() {
            *c = Some(Arc::new(keys));
        }
        Ok(n)
    }

    /// Reloads every refresh period (sooner when asked, at most once per [`MIN_REFETCH`]),
    /// logging changes of outcome only.
    pub async fn refresh_forever(self: Arc<Self>) {
        let issuer = self.settings.issuer.clone();
        // The last outcome, so that only changes are logged.
        let mut last_ok: Option<bool> = None;
        loop {
            match self.load().await {
                Ok(n) => {
                    if last_ok != Some(true) {
                        tracing::info!(%issuer, keys = n, "jwks loaded");
                    }
                    last_ok = Some(true);
                }
                Err(e) => {
                    if last_ok != Some(false) {
                        tracing::error!(%issuer, error = format!("{e:#}"), "cannot load the issuer's jwks; tokens needing keys not held yet are refused");
                    }
                    last_ok = Some(false);
                }
            }
            let period = if self.current().is_none() {
                RETRY_EMPTY
            } else {
                self.settings.refresh()
            };
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                () = self.wanted.notified() => tokio::time::sleep(MIN_REFETCH).await,
            }
        }
    }
}

/// GETs the issuer's `jwks_url` (https trusting `jwks_ca_file`), with its bearer token.
async fn fetch(s: &IssuerSettings) -> anyhow::Result<Vec<u8>> {
    let uri: http::Uri = s.jwks_url.parse().context("jwks_url")?;
    let host = uri.host().context("jwks_url has no host")?.to_owned();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let mut req = http::Request::get(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(
            http::header::HOST,
            uri.authority().map_or(host.as_str(), |a| a.as_str()),
        )
        // The Kubernetes API server answers 406 to an Accept without the JWKS media type.
        .header(
            http::header::ACCEPT,
            "application/jwk-set+json, application/json",
        );
    if !s.jwks_bearer_token_file.is_empty() {
        let token = tokio::fs::read_to_string(&s.jwks_bearer_token_file)
            .await
            .with_context(|| format!("reading {}", s.jwks_bearer_token_file))?;
        req = req.header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", token.trim()),
        );
    }
    let req = req.body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .with_context(|| format!("connecting to {host}:{port}"))?;
    if https {
        let config = crate::tls::http1_client(&s.jwks_ca_file)?;
        let name = rustls::pki_types::ServerName::try_from(host.clone())?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .context("tls handshake")?;
        get(hyper_util::rt::TokioIo::new(tls), req).await
    } else {
        get(hyper_util::rt::TokioIo::new(tcp), req).await
    }
}

async fn get<I>(
    io: I,
    req: http::Request<http_body_util::Empty<bytes::Bytes>>,
) -> anyhow::Result<Vec<u8>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    let conn = tokio::spawn(conn);
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = http_body_util::Limited::new(resp.into_body(), MAX_JWKS_BYTES)
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?
        .to_bytes();
    conn.abort();
    if !status.is_success() {
        bail!("jwks_url answered {status}");
    }
    Ok(body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A public key from RFC 7517 appendix A.1 (RSA) and a P-256 one.
    pub const JWKS: &str = r#"{"keys":[
      {"kty":"RSA","kid":"r1","use":"sig","alg":"RS256","e":"AQAB",
       "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
      {"kty":"EC","kid":"e1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
      {"kty":"RSA","kid":"enc","use":"enc","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
    ]}"#;

    #[test]
    fn keys_are_found_by_id_and_family() {
        let set = KeySet::parse(JWKS.as_bytes()).expect("parses");
        assert_eq!(set.len(), 2, "the encryption key is skipped");
        assert!(set.find(Some("r1"), Algorithm::RS256).is_some());
        assert!(
            set.find(Some("r1"), Algorithm::ES256).is_none(),
            "family must match"
        );
        assert!(set.find(Some("enc"), Algorithm::RS256).is_none());
        assert!(
            set.find(None, Algorithm::ES256).is_some(),
            "the only EC key"
        );
        assert!(set.find(Some("nope"), Algorithm::RS256).is_none());
    }

    #[test]
    fn a_document_without_usable_keys_is_refused() {
        assert!(KeySet::parse(br#"{"keys":[]}"#).is_err());
        assert!(KeySet::parse(b"<html>").is_err());
    }
}
