//! The server side: accepted TCP connections go through a TLS handshake with the current
//! configuration (several handshakes at once, each bounded in time; one that fails is
//! dropped and the accept loop goes on), and a background task swaps in a new configuration
//! when the files change.
use super::TlsSettings;
use super::files::ServerFiles;
use super::identity::PeerInfo;
use futures::{Stream, StreamExt};
use rustls::ServerConfig;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::server::{Connected, TcpIncoming};

/// Longest TLS handshake: a client that stalls in it holds nothing longer than this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further connections wait in the listen backlog.
const MAX_PENDING_HANDSHAKES: usize = 256;

/// The configuration new connections get, replaced when the files change.
type Current = Arc<RwLock<Arc<ServerConfig>>>;

/// Accepts TLS with the configuration of `tls`, reloading it until dropped.
pub(crate) struct Acceptor {
    current: Current,
    reload: tokio::task::JoinHandle<()>,
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.reload.abort();
    }
}

impl Acceptor {
    /// Reads the files (a problem stops the start) and starts re-reading them every
    /// `reload_secs`.
    pub(crate) fn start(tls: &TlsSettings) -> anyhow::Result<Self> {
        let files = ServerFiles::read(tls)?;
        let current: Current = Arc::new(RwLock::new(files.config()?));
        let reload = tokio::spawn(reload(tls.clone(), files, current.clone()));
        tracing::info!(
            client_certificates = !tls.client_ca_file.is_empty(),
            "tls enabled"
        );
        Ok(Self { current, reload })
    }

    fn config(&self) -> Arc<ServerConfig> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The TLS connections of `tcp`, handshakes done; failed handshakes are left out.
    pub(crate) fn incoming(self, tcp: TcpIncoming) -> impl Stream<Item = io::Result<TlsIo>> {
        let acceptor = Arc::new(self);
        tcp.map(move |accepted| {
            let acceptor = acceptor.clone();
            async move {
                match accepted {
                    Ok(tcp) => Ok(acceptor.handshake(tcp).await),
                    Err(e) => Err(e),
                }
            }
        })
        .buffer_unordered(MAX_PENDING_HANDSHAKES)
        .filter_map(|handshaken| std::future::ready(handshaken.transpose()))
    }

    async fn handshake(&self, tcp: TcpStream) -> Option<TlsIo> {
        let remote_addr = tcp.peer_addr().ok();
        let accept = tokio_rustls::TlsAcceptor::from(self.config()).accept(tcp);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
            Ok(Ok(stream)) => {
                let leaf = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first());
                let info = PeerInfo::new(remote_addr, leaf);
                Some(TlsIo { stream, info })
            }
            Ok(Err(e)) => {
                tracing::debug!(remote = ?remote_addr, error = %e, "tls handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(remote = ?remote_addr, "tls handshake timed out");
                None
            }
        }
    }
}

/// Re-reads the files every period; changed files that make a usable configuration replace
/// the current one, others are logged once and the current one is kept.
async fn reload(tls: TlsSettings, mut seen: ServerFiles, current: Current) {
    let mut last_error = None;
    let mut tick = tokio::time::interval(tls.reload_period());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let files = match ServerFiles::read(&tls) {
            Ok(f) => f,
            Err(e) => {
                let e = format!("{e:#}");
                if last_error.as_ref() != Some(&e) {
                    tracing::warn!(error = %e, "cannot read the tls files; keeping the current certificates");
                    last_error = Some(e);
                }
                continue;
            }
        };
        last_error = None;
        if files == seen {
            continue;
        }
        match files.config() {
            Ok(config) => {
                match current.write() {
                    Ok(mut c) => *c = config,
                    Err(poisoned) => *poisoned.into_inner() = config,
                }
                tracing::info!("tls certificates reloaded");
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "changed tls files are not usable; keeping the current certificates");
            }
        }
        seen = files;
    }
}

/// A served TLS connection and who is on the other end.
pub(crate) struct TlsIo {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    info: PeerInfo,
}

impl Connected for TlsIo {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for TlsIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
