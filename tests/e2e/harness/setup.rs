//! How a [`Suite`] is started: the topology, settings on top of the harness's, replicas,
//! and where the event bus lives.
use super::{PrivateRedis, SERVICES, ScratchDir, Service, Suite, Topology};
use crm_platform::testing::{Backend, Storage};
use std::path::{Path, PathBuf};

use super::Process;

type Env = Vec<(String, String)>;

/// Settings every process of every topology gets, on top of the binaries' embedded defaults
/// (the harness removes any inherited `CRM_*`, so nothing from the caller's shell leaks in).
fn common_env(auth_config: &Path) -> Env {
    let mut env: Env = [
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
        // Tickets accepted while customers was away are verified every second, not minute.
        ("CRM_TICKETS__VERIFY_INTERVAL_SECS", "1"),
        // The backbone at test pace: the relay looks every 20 ms, an idle consumer's read
        // returns every 200 ms (so a stop is quick), and a delivery left unacknowledged by a
        // killed consumer is reclaimed after 3 s (not 30 s); a handler still gets 2 s.
        ("CRM_EVENTS__RELAY_INTERVAL_MS", "20"),
        ("CRM_EVENTS__READ_BLOCK_MS", "200"),
        ("CRM_EVENTS__HANDLER_TIMEOUT_MS", "2000"),
        ("CRM_EVENTS__CLAIM_IDLE_MS", "3000"),
        // Campaigns at test pace, at any hour: no quiet hours (the journeys would wait for
        // the morning in Shanghai), the journey job every 500 ms.
        ("CRM_CAMPAIGNS__SENDING__QUIET_HOURS_START", ""),
        ("CRM_CAMPAIGNS__SENDING__QUIET_HOURS_END", ""),
        ("CRM_CAMPAIGNS__JOURNEYS__INTERVAL_MS", "500"),
        // Recommendations fetches stale profiles every 200 ms, not 2 s.
        ("CRM_RECOMMENDATIONS__PROFILES__REFRESH_INTERVAL_MS", "200"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.push(("CRM_CONFIG".to_owned(), auth_config.display().to_string()));
    env
}

/// The `[auth]` every process runs with, in a config file (an array of issuers does not fit
/// in environment variables): JWT on, the test issuer trusted, no rate limits (the tests
/// call fast), and tickets' own token for its calls to customers and loyalty with only the
/// scopes it needs (campaigns gets its own by `CRM_AUTH__CLIENT__TOKEN`; the embedded suite,
/// one process making both services' calls, gets both sets).
fn auth_config(files: &ScratchDir, topology: Topology) -> PathBuf {
    use crm_platform::testing::auth;
    let tickets = match topology {
        Topology::Embedded => auth::token(auth::SUITE_SUBJECT, &auth::suite_calls()),
        _ => auth::token(auth::TICKETS_SUBJECT, auth::TICKETS_CALLS),
    };
    let toml = format!(
        r#"[auth]
mode = "jwt"

[auth.rate_limits]
read_per_sec = 0
write_per_sec = 0
admin_per_sec = 0

[auth.client]
token = "{tickets}"

[[auth.issuers]]
issuer = "{issuer}"
audiences = ["{audience}"]
algorithms = ["HS256"]
hs256_secret = "{secret}"
"#,
        issuer = auth::ISSUER,
        audience = auth::AUDIENCE,
        secret = auth::SECRET,
    );
    let path = files.0.join("auth.toml");
    std::fs::write(&path, toml).expect("write the auth config");
    path
}

/// A suite to start: `Setup::new(topology).env(..).replicas(..).start().await`.
pub struct Setup {
    topology: Topology,
    extra: Env,
    /// Processes per service (Separate only), indexed like [`Service::ALL`].
    replicas: [usize; SERVICES],
    private_events_redis: bool,
}

impl Setup {
    pub fn new(topology: Topology) -> Setup {
        Setup {
            topology,
            extra: Vec::new(),
            replicas: [1; SERVICES],
            private_events_redis: false,
        }
    }

    /// A `CRM_*` setting for every process (e.g. `("CRM_CLIENTS__TIMEOUT_MS", "300")`),
    /// applied last so it overrides the harness's own; a service reads only its own
    /// sections, so a key of another service is ignored.
    pub fn env(mut self, key: &str, value: &str) -> Setup {
        self.extra.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `n` processes of `service` on one database (replicas behind one Kubernetes Service;
    /// the suite's client talks to the first). Separate topology only.
    pub fn replicas(mut self, service: Service, n: usize) -> Setup {
        assert!(n >= 1, "at least one replica");
        assert_eq!(self.topology, Topology::Separate, "replicas are processes");
        self.replicas[service as usize] = n;
        self
    }

    /// The event bus on a Redis of this suite's own ([`Suite::events_redis`]), which the
    /// test may stop and start; caches stay on the test Redis. Separate topology only.
    pub fn private_events_redis(mut self) -> Setup {
        assert_eq!(
            self.topology,
            Topology::Separate,
            "the embedded bus is in process"
        );
        self.private_events_redis = true;
        self
    }

    /// Starts it (see [`Suite::start`] for `None`; on the cluster: connects to it).
    pub async fn start(self) -> Option<Suite> {
        if self.topology == Topology::Cluster {
            assert!(
                self.extra.is_empty(),
                "the cluster runs with its own settings (the chart's values), not {:?}",
                self.extra
            );
            return Some(super::cluster::connect().await);
        }
        let files = ScratchDir::new();
        let auth_config = auth_config(&files, self.topology);
        let mut events_redis = None;
        let processes = match self.topology {
            Topology::Separate => {
                if !crm_platform::testing::backends().contains(&Backend::Postgres) {
                    announce_skip();
                    return None;
                }
                let shared = crm_platform::testing::redis_url().expect("checked by backends()");
                let bus = if self.private_events_redis {
                    let redis = PrivateRedis::start(&files.0);
                    let url = redis.url();
                    events_redis = Some(redis);
                    url
                } else {
                    shared.clone()
                };
                self.separate(&auth_config, &shared, &bus).await
            }
            Topology::Embedded => vec![(
                Service::ALL.to_vec(),
                self.embedded(&auth_config, &files).await,
            )],
            Topology::Cluster => unreachable!("connected above"),
        };
        let urls = Service::ALL.map(|s| {
            processes
                .iter()
                .find(|(served, _)| served.contains(&s))
                .map(|(_, p)| p.url())
                .expect("every service is served")
        });
        Some(Suite::connect(
            urls,
            &harness_token(),
            processes,
            events_redis,
            Some(files),
        ))
    }

    /// Customers and loyalty first (at once), then their further replicas (on the migrated
    /// databases), then tickets pointed at the first of each. Every process is on the same
    /// event bus (`bus`, this suite's stream prefix); each service has its own database
    /// and cache prefix on the test Redis (`cache`).
    async fn separate(
        &self,
        auth_config: &Path,
        cache: &str,
        bus: &str,
    ) -> Vec<(Vec<Service>, Process)> {
        let mut base = common_env(auth_config);
        base.extend([
            ("CRM_CACHE__REDIS_URL".to_owned(), cache.to_owned()),
            ("CRM_EVENTS__REDIS_URL".to_owned(), bus.to_owned()),
            (
                "CRM_EVENTS__KEY_PREFIX".to_owned(),
                crm_platform::testing::random_prefix(),
            ),
        ]);
        let service_env = |storage: Storage, clients: &Env| {
            let mut env = base.clone();
            env.extend([
                ("CRM_DATABASE__URL".to_owned(), storage.database_url),
                ("CRM_CACHE__KEY_PREFIX".to_owned(), storage.cache_prefix),
            ]);
            env.extend_from_slice(clients);
            env.extend_from_slice(&self.extra);
            env
        };
        let (customers, loyalty) = tokio::join!(
            Storage::fresh(Backend::Postgres),
            Storage::fresh(Backend::Postgres)
        );
        let (customers_env, loyalty_env) = (
            service_env(customers, &vec![]),
            service_env(loyalty, &vec![]),
        );
        let (customers, loyalty) = tokio::join!(
            start(Service::Customers, customers_env.clone()),
            start(Service::Loyalty, loyalty_env.clone())
        );
        let clients = vec![
            ("CRM_CLIENTS__CUSTOMERS_URL".to_owned(), customers.1.url()),
            ("CRM_CLIENTS__LOYALTY_URL".to_owned(), loyalty.1.url()),
        ];
        let (tickets_storage, campaigns_storage) = tokio::join!(
            Storage::fresh(Backend::Postgres),
            Storage::fresh(Backend::Postgres)
        );
        let tickets_env = service_env(tickets_storage, &clients);
        let mut processes = vec![customers, loyalty];
        processes.push(start(Service::Tickets, tickets_env.clone()).await);
        let tickets_url = processes[2].1.url();
        let campaigns_clients = vec![
            (
                "CRM_CAMPAIGNS__CLIENTS__CUSTOMERS_URL".to_owned(),
                processes[0].1.url(),
            ),
            (
                "CRM_CAMPAIGNS__CLIENTS__LOYALTY_URL".to_owned(),
                processes[1].1.url(),
            ),
            (
                "CRM_CAMPAIGNS__CLIENTS__TICKETS_URL".to_owned(),
                tickets_url,
            ),
            ("CRM_AUTH__CLIENT__TOKEN".to_owned(), campaigns_token()),
        ];
        let campaigns_env = service_env(campaigns_storage, &campaigns_clients);
        processes.push(start(Service::Campaigns, campaigns_env.clone()).await);
        let recommendations_clients = vec![
            (
                "CRM_RECOMMENDATIONS__CLIENTS__CUSTOMERS_URL".to_owned(),
                processes[0].1.url(),
            ),
            (
                "CRM_AUTH__CLIENT__TOKEN".to_owned(),
                recommendations_token(),
            ),
        ];
        let recommendations_env = service_env(
            Storage::fresh(Backend::Postgres).await,
            &recommendations_clients,
        );
        processes.push(start(Service::Recommendations, recommendations_env.clone()).await);
        for (service, env) in [
            (Service::Customers, customers_env),
            (Service::Loyalty, loyalty_env),
            (Service::Tickets, tickets_env),
            (Service::Campaigns, campaigns_env),
            (Service::Recommendations, recommendations_env),
        ] {
            for n in 2..=self.replicas[service as usize] {
                let label = format!("{}-{n}", service.label());
                let p = Process::start(label, service.binary(), env.clone()).await;
                processes.push((vec![service], p));
            }
        }
        processes
    }

    /// `crm-suite` with a SQLite file per service in `files`, the in-process cache and bus.
    async fn embedded(&self, auth_config: &Path, files: &ScratchDir) -> Process {
        let mut env = common_env(auth_config);
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
        env.extend_from_slice(&self.extra);
        Process::start("suite", env!("CARGO_BIN_EXE_crm-e2e-suite"), env).await
    }
}

/// The first (or only) process of `service`.
async fn start(service: Service, env: Env) -> (Vec<Service>, Process) {
    let p = Process::start(service.label(), service.binary(), env).await;
    (vec![service], p)
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

/// Campaigns' own token for its calls (the read model's refresh).
fn campaigns_token() -> String {
    use crm_platform::testing::auth;
    auth::token(auth::CAMPAIGNS_SUBJECT, auth::CAMPAIGNS_CALLS)
}

/// Recommendations' own token for its calls (the profile refresh's GetCustomer): language,
/// city and tags are not masked, so no `customers.pii.read`.
fn recommendations_token() -> String {
    crm_platform::testing::auth::token("crm-recommendations", &["customers.read"])
}

/// The tests' own token: every scope of the suite's services.
fn harness_token() -> String {
    use crm_platform::app::Service as _;
    let rules: Vec<crm_platform::auth::Rule> = [
        crm_customers::Customers::POLICY,
        crm_loyalty::Loyalty::POLICY,
        crm_tickets::Tickets::POLICY,
        crm_campaigns::Campaigns::POLICY,
        crm_recommendations::Recommendations::POLICY,
    ]
    .concat();
    crm_platform::testing::auth::token_for(&rules)
}
