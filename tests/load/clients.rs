//! The services' clients: several HTTP/2 connections per service, used in turn. Behind a
//! Kubernetes Service each connection is balanced to one pod by kube-proxy when it opens, so
//! one connection would load one pod; a few spread the load, and when a pod goes away its
//! connections reopen to the pods that remain.
use crm_platform::client::{Credentials, TracedChannel, with_metadata};
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use crm_proto::tickets::ticket_service_client::TicketServiceClient;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tonic::transport::Endpoint;

/// Clients of one service, one per connection, handed out round-robin.
pub struct Pool<C> {
    clients: Vec<C>,
    next: AtomicUsize,
}

impl<C: Clone> Pool<C> {
    pub fn pick(&self) -> C {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        self.clients[i].clone()
    }
}

pub struct Clients {
    pub customers: Pool<CustomerServiceClient<TracedChannel>>,
    pub loyalty: Pool<LoyaltyServiceClient<TracedChannel>>,
    /// `None` when no tickets URL was given (no tickets in the mix).
    pub tickets: Option<Pool<TicketServiceClient<TracedChannel>>>,
}

/// How the connections are made.
pub struct Connections {
    pub per_service: usize,
    /// Bound on every call (each attempt of a retried one).
    pub call_timeout: Duration,
    /// What every call carries: `authorization: Bearer` of `--token` or `--token-file`.
    pub credentials: Credentials,
}

impl Connections {
    pub fn clients(
        &self,
        customers: &str,
        loyalty: &str,
        tickets: Option<&str>,
    ) -> anyhow::Result<Clients> {
        Ok(Clients {
            customers: self.pool(customers, CustomerServiceClient::new)?,
            loyalty: self.pool(loyalty, LoyaltyServiceClient::new)?,
            tickets: tickets
                .map(|url| self.pool(url, TicketServiceClient::new))
                .transpose()?,
        })
    }

    fn pool<C>(&self, url: &str, client: fn(TracedChannel) -> C) -> anyhow::Result<Pool<C>> {
        let endpoint = Endpoint::from_shared(url.to_owned())?
            .timeout(self.call_timeout)
            .connect_timeout(Duration::from_secs(2))
            // A pod that vanished without closing its connections is noticed in seconds,
            // not at the next call's timeout.
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(3));
        let clients = (0..self.per_service.max(1))
            .map(|_| {
                client(with_metadata(
                    endpoint.connect_lazy(),
                    self.credentials.clone(),
                ))
            })
            .collect();
        Ok(Pool {
            clients,
            next: AtomicUsize::new(0),
        })
    }
}

/// Waits until every URL answers its health check with SERVING, at most `timeout` in all.
pub async fn await_serving(urls: &[&str], timeout: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + timeout;
    for url in urls {
        let left = until.saturating_duration_since(Instant::now());
        crm_platform::cli::healthcheck_within(
            url,
            "",
            Duration::from_secs(2),
            left,
            &Default::default(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{url} is not SERVING after {timeout:?}: {e:#}"))?;
    }
    Ok(())
}
