//! The PEM files of both sides, read whole (so a reload compares bytes: a rewritten or
//! re-linked file with the same content is no change), and the rustls configurations built
//! from them. Cryptography is always ring's, never a process-wide default.
use super::{TlsClientSettings, TlsSettings};
use anyhow::{Context, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::sync::{Arc, LazyLock};

/// The one ALPN protocol spoken: gRPC is HTTP/2.
const H2: &[u8] = b"h2";

static PROVIDER: LazyLock<Arc<CryptoProvider>> =
    LazyLock::new(|| Arc::new(rustls::crypto::ring::default_provider()));

fn provider() -> Arc<CryptoProvider> {
    PROVIDER.clone()
}

/// One file's path and content.
#[derive(Debug, Clone)]
struct Pem {
    path: String,
    bytes: Vec<u8>,
}

impl PartialEq for Pem {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Pem {
    fn read(path: &str) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
        Ok(Self {
            path: path.to_owned(),
            bytes,
        })
    }

    /// An empty path is no file.
    fn read_optional(path: &str) -> anyhow::Result<Option<Self>> {
        (!path.is_empty()).then(|| Self::read(path)).transpose()
    }

    fn certs(&self) -> anyhow::Result<Vec<CertificateDer<'static>>> {
        let certs = CertificateDer::pem_slice_iter(&self.bytes)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{}: not a PEM certificate file", self.path))?;
        if certs.is_empty() {
            bail!("{}: no certificate in it", self.path);
        }
        Ok(certs)
    }

    fn key(&self) -> anyhow::Result<PrivateKeyDer<'static>> {
        PrivateKeyDer::from_pem_slice(&self.bytes)
            .with_context(|| format!("{}: no PEM private key in it", self.path))
    }

    fn roots(&self) -> anyhow::Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        for cert in self.certs()? {
            roots
                .add(cert)
                .with_context(|| format!("{}: not a usable CA certificate", self.path))?;
        }
        Ok(roots)
    }
}

/// The chain of `cert` and the key of `key`, checked to belong together: rustls cannot tell
/// for every key type (not for ring's ECDSA keys), and a mismatch would only show as failed
/// handshakes. A signature made with the key must verify with the certificate.
fn certified(
    cert: &Pem,
    key: &Pem,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    const PROBE: &[u8] = b"crm tls key check";
    let chain = cert.certs()?;
    let der = key.key()?;
    let mismatch = || {
        format!(
            "{} and {} are not a usable certificate and key",
            cert.path, key.path
        )
    };
    let algorithms = &PROVIDER.signature_verification_algorithms.mapping;
    let schemes: Vec<_> = algorithms.iter().map(|(scheme, _)| *scheme).collect();
    let signer = PROVIDER
        .key_provider
        .load_private_key(der.clone_key())
        .with_context(mismatch)?
        .choose_scheme(&schemes)
        .with_context(mismatch)?;
    let signature = signer.sign(PROBE).with_context(mismatch)?;
    let leaf = webpki::EndEntityCert::try_from(&chain[0]).with_context(mismatch)?;
    let verifies = algorithms
        .iter()
        .filter(|(scheme, _)| *scheme == signer.scheme())
        .flat_map(|(_, algs)| algs.iter())
        .any(|alg| leaf.verify_signature(*alg, PROBE, &signature).is_ok());
    if !verifies {
        bail!("{}: the key does not belong to the certificate", mismatch());
    }
    Ok((chain, der))
}

/// The server's certificate, key and (mTLS) client CA as last read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServerFiles {
    cert: Pem,
    key: Pem,
    client_ca: Option<Pem>,
}

impl ServerFiles {
    pub(crate) fn read(s: &TlsSettings) -> anyhow::Result<Self> {
        Ok(Self {
            cert: Pem::read(&s.cert_file)?,
            key: Pem::read(&s.key_file)?,
            client_ca: Pem::read_optional(&s.client_ca_file)?,
        })
    }

    /// The server configuration: h2 only; with a client CA, a client certificate signed by
    /// it is required.
    pub(crate) fn config(&self) -> anyhow::Result<Arc<ServerConfig>> {
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?;
        let builder = match &self.client_ca {
            Some(ca) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(ca.roots()?), provider())
                        .build()
                        .with_context(|| format!("{}: no usable client CA", ca.path))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let (chain, key) = certified(&self.cert, &self.key)?;
        let mut config = builder.with_single_cert(chain, key).with_context(|| {
            format!(
                "{} and {} are not a usable certificate and key",
                self.cert.path, self.key.path
            )
        })?;
        config.alpn_protocols = vec![H2.to_vec()];
        Ok(Arc::new(config))
    }
}

/// The CA and (mTLS) certificate and key of outgoing calls as last read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClientFiles {
    ca: Option<Pem>,
    identity: Option<(Pem, Pem)>,
}

impl ClientFiles {
    pub(crate) fn read(s: &TlsClientSettings) -> anyhow::Result<Self> {
        let cert = Pem::read_optional(&s.cert_file)?;
        let key = Pem::read_optional(&s.key_file)?;
        Ok(Self {
            ca: Pem::read_optional(&s.ca_file)?,
            identity: cert.zip(key),
        })
    }

    /// The client configuration for gRPC: servers verified against the CA (or the public web
    /// roots), the certificate presented when a server asks for one, ALPN h2.
    pub(crate) fn config(&self) -> anyhow::Result<Arc<ClientConfig>> {
        self.config_for(H2)
    }

    /// The same for a client speaking `alpn` (e.g. `http/1.1`).
    pub(crate) fn config_for(&self, alpn: &[u8]) -> anyhow::Result<Arc<ClientConfig>> {
        let roots = match &self.ca {
            Some(ca) => ca.roots()?,
            None => RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            Some((cert, key)) => {
                let (chain, der) = certified(cert, key)?;
                builder.with_client_auth_cert(chain, der).with_context(|| {
                    format!(
                        "{} and {} are not a usable certificate and key",
                        cert.path, key.path
                    )
                })?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(Arc::new(config))
    }
}

/// An HTTP/1.1 client trusting the CA bundle in `ca_file` (the issuers' JWKS fetch).
pub(crate) fn http1_client(ca_file: &str) -> anyhow::Result<Arc<ClientConfig>> {
    ClientFiles::read(&TlsClientSettings {
        ca_file: ca_file.to_owned(),
        ..TlsClientSettings::default()
    })?
    .config_for(b"http/1.1")
}
