//! The client side: a connector for `https://` channels that dials TCP and runs the TLS
//! handshake with the `[tls.client]` files as they are at that moment (re-read per
//! connection: connections are few and long-lived, so a rotated certificate or CA is picked
//! up at the next reconnect without a timer).
use super::TlsClientSettings;
use super::files::ClientFiles;
use http::Uri;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::net::TcpStream;

/// The files last read and the configuration built from them.
struct Loaded {
    files: ClientFiles,
    config: Arc<ClientConfig>,
}

/// Dials `https://` URIs with TLS (tonic's `Endpoint::connect_with_connector_lazy`).
#[derive(Clone)]
pub struct TlsConnector {
    settings: Arc<TlsClientSettings>,
    loaded: Arc<Mutex<Loaded>>,
}

impl TlsConnector {
    /// Reads the files now: a problem is an error here, later ones keep the last good files.
    pub fn new(settings: &TlsClientSettings) -> anyhow::Result<Self> {
        let files = ClientFiles::read(settings)?;
        let config = files.config()?;
        Ok(Self {
            settings: Arc::new(settings.clone()),
            loaded: Arc::new(Mutex::new(Loaded { files, config })),
        })
    }

    /// The configuration of the files as they are now, or the last good one.
    fn config(&self) -> Arc<ClientConfig> {
        let mut loaded = match self.loaded.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        match ClientFiles::read(&self.settings) {
            Ok(files) if files != loaded.files => {
                match files.config() {
                    Ok(config) => {
                        tracing::info!("tls client certificates reloaded");
                        loaded.config = config;
                    }
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), "changed tls client files are not usable; keeping the current ones")
                    }
                }
                loaded.files = files;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot read the tls client files; keeping the current ones")
            }
        }
        loaded.config.clone()
    }

    async fn connect(
        self,
        uri: Uri,
    ) -> io::Result<TokioIo<tokio_rustls::client::TlsStream<TcpStream>>> {
        let invalid =
            |what: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{uri}: {what}"));
        // An IPv6 literal is bracketed in a URI, not in a socket address or a server name.
        let host = uri
            .host()
            .ok_or_else(|| invalid("no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| invalid("host is not a DNS name or IP address"))?;
        let port = uri.port_u16().unwrap_or(443);
        let config = self.config();
        let tcp = TcpStream::connect((host, port)).await?;
        // As tonic's own connector does: no Nagle delay on small gRPC frames.
        tcp.set_nodelay(true)?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        Ok(TokioIo::new(tls))
    }
}

impl tower::Service<Uri> for TlsConnector {
    type Response = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.clone().connect(uri))
    }
}
