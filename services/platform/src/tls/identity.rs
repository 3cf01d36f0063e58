//! Who a verified client certificate names: its SPIFFE id (a `spiffe://` URI SAN), else its
//! first DNS SAN. Worked out once per connection and carried in every request's extensions.
use rustls::pki_types::CertificateDer;
use std::net::SocketAddr;
use std::sync::Arc;

/// What tonic puts into the extensions of every request served on a TLS connection (the
/// connection's `ConnectInfo`).
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub remote_addr: Option<SocketAddr>,
    identity: Option<Arc<str>>,
}

impl PeerInfo {
    /// A connection whose certificate said `identity` (tests of layers that read it).
    #[cfg(test)]
    pub(crate) fn with_identity(identity: &str) -> Self {
        Self {
            remote_addr: None,
            identity: Some(Arc::from(identity)),
        }
    }

    pub(crate) fn new(remote_addr: Option<SocketAddr>, leaf: Option<&CertificateDer<'_>>) -> Self {
        Self {
            remote_addr,
            identity: leaf.and_then(identity_of).map(Arc::from),
        }
    }

    /// The identity of the verified client certificate; none without one.
    pub fn identity(&self) -> Option<&str> {
        self.identity.as_deref()
    }
}

/// The identity of the client certificate the request came with (verified during the
/// handshake against `tls.client_ca_file`); none on a plain connection or without a
/// certificate. For tower layers on the server (before tonic's own request type exists).
pub fn peer_identity<B>(req: &http::Request<B>) -> Option<&str> {
    req.extensions().get::<PeerInfo>()?.identity()
}

/// The SPIFFE id of `cert`, else its first DNS SAN.
fn identity_of(cert: &CertificateDer<'_>) -> Option<String> {
    let cert = webpki::EndEntityCert::try_from(cert).ok()?;
    let spiffe = cert
        .valid_uri_names()
        .find(|uri| uri.starts_with("spiffe://"));
    spiffe
        .or_else(|| cert.valid_dns_names().next())
        .map(str::to_owned)
}
