//! Outgoing gRPC: one [`Remote`] per service called, built from its [`ClientSettings`]. A
//! service keeps only a typed facade over it (which RPCs it calls, what their answers mean to
//! it). Every call made through a `Remote`
//!
//! - carries the current span's W3C trace context ([`PropagateTrace`]), so the trace
//!   continues in the callee;
//! - has a deadline: the settings' total time, capped by what remains of the deadline of the
//!   call being served ([`deadline`]), sent as `grpc-timeout` so the callee gives up too;
//! - is retried only when it is read-only or idempotent (it carries a request id), on
//!   UNAVAILABLE, DEADLINE_EXCEEDED and, where configured, RESOURCE_EXHAUSTED: exponential
//!   backoff with jitter, a bounded number of attempts, never past the deadline.
//!
//! Retry is the `backon` crate rather than tower's retry layer: at the channel, tower's layer
//! sees HTTP requests whose bodies must be buffered to be sent again and responses whose gRPC
//! status sits in trailers, and it cannot know which RPC is idempotent. `backon` retries the
//! typed call (the message is cloned per attempt), and its `adjust` hook stops the retries
//! when the next pause would end past the deadline.
mod credentials;
pub mod deadline;
mod retry;
mod settings;
mod trace;

pub use credentials::Credentials;
pub use settings::{ClientSettings, Idempotence, RetryPolicy};
pub use trace::PropagateTrace;

use std::future::Future;
use std::sync::Arc;
use tonic::Status;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// The channel under every typed client: lazily connecting, the trace context and this
/// service's credentials on every call.
pub type TracedChannel = InterceptedService<Channel, Outgoing>;

/// A lazily connecting channel to `s.url`: nothing is dialled until the first call. An
/// `https://` url is dialled with TLS under `s.tls` (its files are read now, so a bad one is
/// an error here, and re-read at each new connection).
pub fn channel(s: &ClientSettings) -> anyhow::Result<TracedChannel> {
    let endpoint = Endpoint::from_shared(s.url.clone())?
        .connect_timeout(s.connect_timeout)
        .timeout(s.call_timeout);
    let channel = if endpoint.uri().scheme_str() == Some("https") {
        endpoint.connect_with_connector_lazy(crate::tls::TlsConnector::new(&s.tls)?)
    } else {
        endpoint.connect_lazy()
    };
    Ok(with_metadata(channel, s.credentials.clone()))
}

/// `channel` with the trace context and `credentials` added to every call.
pub fn with_metadata(channel: Channel, credentials: Credentials) -> TracedChannel {
    InterceptedService::new(channel, Outgoing { credentials })
}

/// What every outgoing call carries: trace context and credentials.
#[derive(Clone, Default)]
pub struct Outgoing {
    credentials: Credentials,
}

impl tonic::service::Interceptor for Outgoing {
    fn call(&mut self, req: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let mut req = tonic::service::Interceptor::call(&mut PropagateTrace, req)?;
        self.credentials.apply(req.metadata_mut());
        Ok(req)
    }
}

/// A typed client `C` (e.g. `CustomerServiceClient<TracedChannel>`) with its call policy.
#[derive(Clone)]
pub struct Remote<C> {
    client: C,
    settings: Arc<ClientSettings>,
}

impl<C: Clone> Remote<C> {
    /// `make` wraps the channel in the typed client, e.g. `CustomerServiceClient::new`.
    pub fn new(
        settings: ClientSettings,
        make: impl FnOnce(TracedChannel) -> C,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client: make(channel(&settings)?),
            settings: Arc::new(settings),
        })
    }

    /// A client of the service at `url` calling with this service's identity (`platform`'s
    /// `[auth.client]`), each call (retries included) bounded by `timeout`; None when `url`
    /// is empty (the service is not configured, and its callers carry on without it).
    pub fn configured(
        url: &str,
        timeout: std::time::Duration,
        platform: &crate::config::PlatformSettings,
        make: impl FnOnce(TracedChannel) -> C,
    ) -> anyhow::Result<Option<Self>> {
        if url.is_empty() {
            return Ok(None);
        }
        let settings = ClientSettings::new(url, timeout).calling_as(platform)?;
        Self::new(settings, make).map(Some)
    }

    /// Calls `rpc` with `message` under the deadline and retry policy; `call` says whether
    /// the RPC may be repeated. `rpc` is the typed method, e.g.
    /// `|mut c, req| async move { c.get_customer(req).await }`.
    pub async fn call<Req, Resp, F, Fut>(
        &self,
        call: Idempotence,
        message: Req,
        rpc: F,
    ) -> Result<Resp, Status>
    where
        Req: Clone,
        F: Fn(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        retry::run(&self.settings, call, |timeout| {
            let mut req = tonic::Request::new(message.clone());
            req.set_timeout(timeout);
            let answer = rpc(self.client.clone(), req);
            async move { answer.await.map(tonic::Response::into_inner) }
        })
        .await
    }
}

#[cfg(test)]
mod tests;
