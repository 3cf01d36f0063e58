//! Optional TLS and mTLS for every service (rustls, ring): the server's listen port (a
//! reloading acceptor in `server::serve` when `tls.enabled`), the identity of a verified
//! client certificate for the auth layer ([`peer_identity`]), and `https://` outgoing calls
//! ([`TlsConnector`] under `client::channel`). Certificates, keys and CAs are re-read while
//! running, so rotated files are used without a restart.
pub(crate) mod acceptor;
mod connector;
mod files;
mod identity;
mod settings;

pub use connector::TlsConnector;
pub(crate) use files::http1_client;
pub use identity::{PeerInfo, peer_identity};
pub use settings::{TlsClientSettings, TlsSettings};

#[cfg(test)]
mod tests;
