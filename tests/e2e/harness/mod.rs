//! The suite under test: the processes of one [`Topology`] on their own fresh storage, and a
//! typed client per service ([`Suite`]).
mod process;

pub use process::Process;

use crm_platform::testing::{Backend, Storage};
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use crm_proto::tickets::ticket_service_client::TicketServiceClient;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint};

/// Bound on every call a test makes (the servers' own bound is 30 s).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How the services are deployed for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One process per service, as in Kubernetes, each on its own PostgreSQL database and
    /// sharing one Redis (own key prefix); tickets reaches customers and loyalty through their
    /// `CRM_CLIENTS__*_URL`.
    Separate,
    /// `crm-suite`: every service in one process on one port, SQLite files and the
    /// in-process cache (`make run`).
    Embedded,
}

/// A service of the suite: what a test kills or restarts, and which typed client it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Customers,
    Loyalty,
    Tickets,
}

impl Service {
    const ALL: [Service; 3] = [Service::Customers, Service::Loyalty, Service::Tickets];

    fn label(self) -> &'static str {
        match self {
            Service::Customers => "customers",
            Service::Loyalty => "loyalty",
            Service::Tickets => "tickets",
        }
    }

    /// Its binary, built by cargo as a bin of this package (see Cargo.toml).
    fn binary(self) -> &'static str {
        match self {
            Service::Customers => env!("CARGO_BIN_EXE_crm-e2e-customers"),
            Service::Loyalty => env!("CARGO_BIN_EXE_crm-e2e-loyalty"),
            Service::Tickets => env!("CARGO_BIN_EXE_crm-e2e-tickets"),
        }
    }
}

/// Settings every process of every topology gets, on top of the binaries' embedded defaults
/// (the harness removes any inherited `CRM_*`, so nothing from the caller's shell leaks in).
fn common_env() -> Vec<(String, String)> {
    [
        ("CRM_SERVER__HOST", "127.0.0.1"),
        ("CRM_SERVER__SHUTDOWN_GRACE_MS", "2000"),
        ("CRM_TELEMETRY__FORMAT", "json"),
        ("CRM_TELEMETRY__LEVEL", "info"),
        ("CRM_DATABASE__MAX_CONNECTIONS", "5"),
        // Fixed, so page tokens survive a restart.
        (
            "CRM_SECURITY__PAGE_TOKEN_SECRET",
            "e2e-page-token-secret-0123456789abcdef",
        ),
        // Goodwill owed while loyalty was away is retried every second, not every minute.
        ("CRM_TICKETS__VERIFY_INTERVAL_SECS", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The running suite: one typed client per service (lazy channels, so they reconnect after a
/// restart), and the processes behind them.
pub struct Suite {
    pub customers: CustomerServiceClient<Channel>,
    pub loyalty: LoyaltyServiceClient<Channel>,
    pub tickets: TicketServiceClient<Channel>,
    /// Each process with the services it serves. Dropped (killed) before `_files`.
    processes: Vec<(Vec<Service>, Process)>,
    _files: ScratchDir,
}

impl Suite {
    /// Starts `topology` with the harness defaults; `None` (after a loud SKIPPED banner) when
    /// it needs PostgreSQL + Redis and `CRM_TEST_POSTGRES_URL` / `CRM_TEST_REDIS_URL` are not
    /// set. With `CI=true` their absence fails the test instead.
    pub async fn start(topology: Topology) -> Option<Suite> {
        Suite::start_with(topology, &[]).await
    }

    /// [`start`](Self::start) with `extra` settings (`CRM_*` variables, e.g.
    /// `("CRM_CLIENTS__TIMEOUT_MS", "300")`) for every process, applied last so they override
    /// the harness's own (e.g. a Redis URL through a cuttable proxy); a service reads only its
    /// own sections, so a key of another service is ignored.
    pub async fn start_with(topology: Topology, extra: &[(&str, &str)]) -> Option<Suite> {
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let files = ScratchDir::new();
        let processes = match topology {
            Topology::Separate => {
                if !crm_platform::testing::backends().contains(&Backend::Postgres) {
                    announce_skip();
                    return None;
                }
                separate(&extra).await
            }
            Topology::Embedded => vec![(Service::ALL.to_vec(), embedded(&extra, &files).await)],
        };
        let url = |s: Service| {
            processes
                .iter()
                .find(|(served, _)| served.contains(&s))
                .map(|(_, p)| p.url())
                .expect("every service is served")
        };
        Some(Suite {
            customers: CustomerServiceClient::new(channel(url(Service::Customers))),
            loyalty: LoyaltyServiceClient::new(channel(url(Service::Loyalty))),
            tickets: TicketServiceClient::new(channel(url(Service::Tickets))),
            processes,
            _files: files,
        })
    }

    /// The process serving `service` (in the embedded suite: the one process).
    pub fn process(&mut self, service: Service) -> &mut Process {
        self.processes
            .iter_mut()
            .find(|(served, _)| served.contains(&service))
            .map(|(_, p)| p)
            .expect("every service is served")
    }

    /// `kill -9` of the process serving `service`.
    pub fn kill(&mut self, service: Service) {
        self.process(service).kill();
    }

    /// Restarts the process serving `service` on its storage and port; returns once SERVING.
    pub async fn restart(&mut self, service: Service) {
        self.process(service).restart().await;
    }
}

/// Customers and loyalty first (at once), then tickets pointed at them.
async fn separate(extra: &[(String, String)]) -> Vec<(Vec<Service>, Process)> {
    async fn start(
        service: Service,
        clients: Vec<(String, String)>,
        extra: &[(String, String)],
    ) -> (Vec<Service>, Process) {
        let storage = Storage::fresh(Backend::Postgres).await;
        let redis = crm_platform::testing::redis_url().expect("checked by backends()");
        let mut env = common_env();
        env.extend([
            ("CRM_DATABASE__URL".to_owned(), storage.database_url),
            ("CRM_CACHE__REDIS_URL".to_owned(), redis),
            ("CRM_CACHE__KEY_PREFIX".to_owned(), storage.cache_prefix),
        ]);
        env.extend(clients);
        env.extend_from_slice(extra);
        let p = Process::start(service.label(), service.binary(), env).await;
        (vec![service], p)
    }
    let (customers, loyalty) = tokio::join!(
        start(Service::Customers, vec![], extra),
        start(Service::Loyalty, vec![], extra)
    );
    let clients = vec![
        ("CRM_CLIENTS__CUSTOMERS_URL".to_owned(), customers.1.url()),
        ("CRM_CLIENTS__LOYALTY_URL".to_owned(), loyalty.1.url()),
    ];
    let tickets = start(Service::Tickets, clients, extra).await;
    vec![customers, loyalty, tickets]
}

/// `crm-suite` with a SQLite file per service in `files` and the in-process cache.
async fn embedded(extra: &[(String, String)], files: &ScratchDir) -> Process {
    let mut env = common_env();
    env.extend([
        (
            "CRM_DATABASE__URL".to_owned(),
            format!("sqlite://{}/{{service}}.sqlite", files.0.display()),
        ),
        (
            "CRM_CACHE__KEY_PREFIX".to_owned(),
            crm_platform::testing::random_prefix(),
        ),
    ]);
    env.extend_from_slice(extra);
    Process::start("suite", env!("CARGO_BIN_EXE_crm-e2e-suite"), env).await
}

/// Says once per run, past the test harness's output capture (which hides the platform's
/// banner of a passing test), that the separate-process runs were skipped.
fn announce_skip() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "\n=== SKIPPED: crm-e2e separate-process runs (CRM_TEST_POSTGRES_URL and CRM_TEST_REDIS_URL not set; `make test` starts throwaway servers) ===\n"
        );
    });
}

fn channel(url: String) -> Channel {
    Endpoint::from_shared(url)
        .expect("a valid url")
        .timeout(CALL_TIMEOUT)
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy()
}

/// A directory for one suite's SQLite files, removed when the suite is dropped.
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

    /// Sleeps a little before the next look, or fails the test once the time is up.
    pub async fn wait(&self) {
        assert!(
            Instant::now() < self.at,
            "timed out waiting for {}",
            self.what
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs a journey once per topology: `on_every_topology!(name)` declares the tests
/// `name::separate_processes` and `name::embedded_suite`, each calling `name(suite)`.
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
