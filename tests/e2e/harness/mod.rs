//! The suite under test: the processes of one [`Topology`] on their own fresh storage, and a
//! typed client per service ([`Suite`]), started by a [`Setup`].
mod cluster;
mod process;
mod redis;
mod setup;

pub use process::Process;
pub use redis::PrivateRedis;
pub use setup::Setup;

use crm_platform::client::{Credentials, TracedChannel, with_metadata};
use crm_proto::campaigns::campaign_service_client::CampaignServiceClient;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use crm_proto::recommendations::recommendation_service_client::RecommendationServiceClient;
use crm_proto::tickets::ticket_service_client::TicketServiceClient;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint};

/// Bound on every call a test makes (the servers' own bound is 30 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How the services are deployed for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One process per service (or several replicas of one, see [`Setup::replicas`]), as in
    /// Kubernetes, each service on its own PostgreSQL database; all share one event bus on
    /// Redis (the suite's own stream prefix) and the test Redis for their caches (own key
    /// prefixes); tickets reaches customers and loyalty through their `CRM_CLIENTS__*_URL`,
    /// campaigns and recommendations customers through their own clients' urls.
    Separate,
    /// `crm-suite`: every service in one process on one port, SQLite files, the in-process
    /// cache and event bus (`make run`).
    Embedded,
    /// Services someone else runs, e.g. the chart on the local Kubernetes reached through
    /// `kubectl port-forward`: their URLs from `CRM_E2E_CLUSTER_{CUSTOMERS,LOYALTY,TICKETS,CAMPAIGNS,RECOMMENDATIONS}_URL`,
    /// their settings from the deployment (a [`Setup`] adds none), no processes to kill.
    Cluster,
}

/// A service of the suite: what a test kills or restarts, and which typed client it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Customers,
    Loyalty,
    Tickets,
    Campaigns,
    Recommendations,
}

/// How many services the suite has.
pub const SERVICES: usize = 5;

impl Service {
    pub const ALL: [Service; SERVICES] = [
        Service::Customers,
        Service::Loyalty,
        Service::Tickets,
        Service::Campaigns,
        Service::Recommendations,
    ];

    fn label(self) -> &'static str {
        match self {
            Service::Customers => "customers",
            Service::Loyalty => "loyalty",
            Service::Tickets => "tickets",
            Service::Campaigns => "campaigns",
            Service::Recommendations => "recommendations",
        }
    }

    /// Its binary, built by cargo as a bin of this package (see Cargo.toml).
    fn binary(self) -> &'static str {
        match self {
            Service::Customers => env!("CARGO_BIN_EXE_crm-e2e-customers"),
            Service::Loyalty => env!("CARGO_BIN_EXE_crm-e2e-loyalty"),
            Service::Tickets => env!("CARGO_BIN_EXE_crm-e2e-tickets"),
            Service::Campaigns => env!("CARGO_BIN_EXE_crm-e2e-campaigns"),
            Service::Recommendations => env!("CARGO_BIN_EXE_crm-e2e-recommendations"),
        }
    }
}

/// The running suite: one typed client per service (lazy channels, so they reconnect after a
/// restart; to the first replica when a service has several), and the processes behind them.
pub struct Suite {
    pub customers: CustomerServiceClient<TracedChannel>,
    pub loyalty: LoyaltyServiceClient<TracedChannel>,
    pub tickets: TicketServiceClient<TracedChannel>,
    pub campaigns: CampaignServiceClient<TracedChannel>,
    pub recommendations: RecommendationServiceClient<TracedChannel>,
    /// Where each service is, indexed like [`Service::ALL`].
    urls: [String; SERVICES],
    /// Each process with the services it serves, replicas of one service in start order.
    /// Dropped (killed) before the Redis and the files they use.
    processes: Vec<(Vec<Service>, Process)>,
    events_redis: Option<PrivateRedis>,
    /// `None` on the cluster (its storage is its own).
    _files: Option<ScratchDir>,
}

impl Suite {
    /// Starts `topology` with the harness defaults; `None` (after a loud SKIPPED banner) when
    /// it needs PostgreSQL + Redis and `CRM_TEST_POSTGRES_URL` / `CRM_TEST_REDIS_URL` are not
    /// set. With `CI=true` their absence fails the test instead.
    pub async fn start(topology: Topology) -> Option<Suite> {
        Setup::new(topology).start().await
    }

    /// [`start`](Self::start) with `extra` settings for every process (see [`Setup::env`]).
    pub async fn start_with(topology: Topology, extra: &[(&str, &str)]) -> Option<Suite> {
        extra
            .iter()
            .fold(Setup::new(topology), |s, (k, v)| s.env(k, v))
            .start()
            .await
    }

    /// A channel to (the first replica of) `service` that sends no credentials.
    pub fn anonymous_channel(&self, service: Service) -> Channel {
        channel(self.urls[service as usize].clone())
    }

    /// The (first) process serving `service` (in the embedded suite: the one process).
    pub fn process(&mut self, service: Service) -> &mut Process {
        self.replica(service, 0)
    }

    /// Replica `i` (from 0, in start order) of `service`.
    pub fn replica(&mut self, service: Service, i: usize) -> &mut Process {
        assert!(
            !self.processes.is_empty(),
            "a suite on the cluster has no processes to stop, kill or restart"
        );
        self.processes
            .iter_mut()
            .filter(|(served, _)| served.contains(&service))
            .map(|(_, p)| p)
            .nth(i)
            .unwrap_or_else(|| panic!("no replica {i} of {service:?}"))
    }

    /// `kill -9` of the (first) process serving `service`.
    pub fn kill(&mut self, service: Service) {
        self.process(service).kill();
    }

    /// Restarts the (first) process serving `service` on its storage and port; returns once
    /// SERVING.
    pub async fn restart(&mut self, service: Service) {
        self.process(service).restart().await;
    }

    /// The Redis of the event bus when the setup asked for a private one
    /// ([`Setup::private_events_redis`]), to stop and start again.
    pub fn events_redis(&mut self) -> &mut PrivateRedis {
        self.events_redis
            .as_mut()
            .expect("the suite was set up with private_events_redis()")
    }
}

impl Suite {
    /// Clients of the services at `urls` (indexed like [`Service::ALL`]), calling with
    /// `token` (empty: without one).
    fn connect(
        urls: [String; SERVICES],
        token: &str,
        processes: Vec<(Vec<Service>, Process)>,
        events_redis: Option<PrivateRedis>,
        files: Option<ScratchDir>,
    ) -> Suite {
        let [customers, loyalty, tickets, campaigns, recommendations] = urls.clone();
        let credentials = if token.is_empty() {
            Credentials::default()
        } else {
            Credentials::token(token).expect("an ascii token")
        };
        let channel = |url| with_metadata(channel(url), credentials.clone());
        Suite {
            customers: CustomerServiceClient::new(channel(customers)),
            loyalty: LoyaltyServiceClient::new(channel(loyalty)),
            tickets: TicketServiceClient::new(channel(tickets)),
            campaigns: CampaignServiceClient::new(channel(campaigns)),
            recommendations: RecommendationServiceClient::new(channel(recommendations)),
            urls,
            processes,
            events_redis,
            _files: files,
        }
    }
}

fn channel(url: String) -> Channel {
    Endpoint::from_shared(url)
        .expect("a valid url")
        .timeout(CALL_TIMEOUT)
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy()
}

/// A directory for one suite's files (SQLite, a private Redis), removed when the suite is
/// dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Self {
        let dir = std::env::temp_dir()
            .join("crm-tests")
            .join(format!("e2e-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the scratch dir");
        Self(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bound on one wait of a test for an asynchronous effect:
/// `while !done().await { deadline.wait().await }`.
pub struct Deadline {
    at: Instant,
    what: &'static str,
}

impl Deadline {
    pub fn after(timeout: Duration, what: &'static str) -> Self {
        Self {
            at: Instant::now() + timeout,
            what,
        }
    }

    /// Whether the time is up (to fail with what was seen instead of [`wait`](Self::wait)'s
    /// message).
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// Sleeps a little before the next look, or fails the test once the time is up.
    pub async fn wait(&self) {
        assert!(
            Instant::now() < self.at,
            "timed out waiting for {}",
            self.what
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a journey once per topology the harness starts: `on_every_topology!(name)` declares
/// the tests `name::separate_processes` and `name::embedded_suite`, each calling
/// `name(suite)`. The runs on `Topology::Cluster` (started by someone else) are listed in
/// `cluster.rs`.
macro_rules! on_every_topology {
    ($($journey:ident),+ $(,)?) => {$(
        mod $journey {
            use $crate::harness::{Suite, Topology};

            #[tokio::test]
            async fn separate_processes() {
                if let Some(suite) = Suite::start(Topology::Separate).await {
                    super::$journey(suite).await;
                }
            }

            #[tokio::test]
            async fn embedded_suite() {
                let suite = Suite::start(Topology::Embedded).await.expect("always available");
                super::$journey(suite).await;
            }
        }
    )+};
}
pub(crate) use on_every_topology;
