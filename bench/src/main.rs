//! `crm-bench`: measures the services next to same-run baselines (a bare tonic server and,
//! given `--pgbench`, pgbench TPC-B on the same PostgreSQL), so the noisy machine affects
//! both alike. Server and load generator share one process; each scenario gets the same
//! connections, concurrency and duration. One module per service.
mod campaign_report;
mod campaign_sends;
mod campaigns;
mod customers;
mod customers_scale;
mod events;
mod loyalty;
mod recommendations;
mod recommendations_rebuild;
mod tickets;

use clap::Parser;

// The service binaries' allocator, so the bench measures what ships.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use crm_platform::config::{PlatformSettings, Secret};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[derive(Parser, Debug)]
pub struct Args {
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// HTTP/2 connections the load is spread over.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Database for the service scenarios: a sqlite:// URL, or an admin postgres:// URL (a
    /// fresh database is created in it). Default: a temporary SQLite file.
    #[arg(long, env = "CRM_BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Redis for the cache scenarios; empty: in-process cache only.
    #[arg(long, env = "CRM_BENCH_REDIS_URL", default_value = "")]
    pub redis_url: String,
    /// Customers preloaded; hot reads pick among the first 100.
    #[arg(long, default_value_t = 2000)]
    pub customers: usize,
    /// Table sizes of the customers-at-scale scenarios (first-page list and search), e.g.
    /// "10000,1000000"; each is seeded into its own database. Empty: none.
    #[arg(
        long,
        env = "CRM_BENCH_SCALE_CUSTOMERS",
        value_delimiter = ',',
        default_value = "10000,1000000"
    )]
    pub scale_customers: Vec<usize>,
    /// Customers in the campaigns read model of the segment preview scenarios (PostgreSQL
    /// only; 0: none).
    #[arg(long, env = "CRM_BENCH_CAMPAIGNS_MEMBERS", default_value_t = 1_000_000)]
    pub campaigns_members: usize,
    /// Rounds; each runs the baseline and then every scenario.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Run only scenarios whose name contains this (e.g. "cached"); the baseline always runs.
    /// `CRM_BENCH_ONLY=Earn make bench` runs the ledger scenarios alone.
    #[arg(long, env = "CRM_BENCH_ONLY", default_value = "")]
    pub only: String,
    /// Run pgbench TPC-B against this database URL in every round, as the ledger baseline.
    #[arg(long, env = "CRM_BENCH_PGBENCH_URL")]
    pub pgbench: Option<String>,
    /// The pgbench binary.
    #[arg(long, default_value = "pgbench")]
    pub pgbench_bin: String,
    /// Label for the database column of the report.
    #[arg(long, default_value = "")]
    pub label: String,
    /// Consumers the purchase -> effect scenarios run with: "bench" (a bench handler, the
    /// backbone alone) and/or "loyalty" (loyalty's purchase points).
    #[arg(
        long,
        env = "CRM_BENCH_EVENTS_CONSUMERS",
        value_delimiter = ',',
        default_value = "bench,loyalty"
    )]
    pub events_consumers: Vec<events::ConsumerKind>,
    /// Purchases per second of the open-loop purchase -> effect scenarios.
    #[arg(long, env = "CRM_BENCH_EVENTS_RATE", default_value_t = 1000)]
    pub events_rate: u64,
    /// Purchases waiting before a consumer starts, for its catch-up rate.
    #[arg(long, env = "CRM_BENCH_EVENTS_BACKLOG", default_value_t = 20000)]
    pub events_backlog: usize,
}

impl Args {
    pub fn wants(&self, scenario: &str) -> bool {
        scenario.contains(self.only.as_str())
    }
}

pub struct Stats {
    name: String,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    /// Ledger postings per call (0: not a ledger scenario).
    postings_per_call: f64,
    /// Compared with pgbench TPC-B of the same round, not the tonic baseline.
    vs_pgbench: bool,
    /// Compared with this scenario of the same round (name, label in the report) instead.
    versus: Option<(&'static str, &'static str)>,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    pub fn per_call(mut self, postings: f64) -> Self {
        self.postings_per_call = postings;
        self
    }
    pub fn against_pgbench(mut self) -> Self {
        self.vs_pgbench = true;
        self
    }
    pub fn versus(mut self, scenario: &'static str, label: &'static str) -> Self {
        self.versus = Some((scenario, label));
        self
    }
    /// The rate the report compares: postings/s for ledger scenarios, else calls/s.
    fn rate(&self) -> f64 {
        if self.postings_per_call > 0.0 {
            self.rps() * self.postings_per_call
        } else {
            self.rps()
        }
    }
    fn pct(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

/// Runs `call` from `args.concurrency` tasks for `args.seconds`; every task has its own
/// client clone.
pub async fn drive<C, F, Fut>(name: &str, args: &Args, clients: &[C], call: F) -> Stats
where
    C: Clone + Send + 'static,
    F: Fn(C, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    drive_with(name, args.seconds, args.concurrency, clients, call).await
}

/// [`drive`] with its own duration and concurrency (e.g. one call at a time, for a latency).
pub async fn drive_with<C, F, Fut>(
    name: &str,
    seconds: u64,
    concurrency: usize,
    clients: &[C],
    call: F,
) -> Stats
where
    C: Clone + Send + 'static,
    F: Fn(C, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    // Warm up connections and caches for a second; not counted.
    let warm_until = Instant::now() + Duration::from_secs(1);
    let deadline = warm_until + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let client = clients[t % clients.len()].clone();
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let (mut errors, mut n) = (0usize, 0u64);
            loop {
                let start = Instant::now();
                if start >= deadline {
                    break;
                }
                let ok = call(client.clone(), (t as u64) << 32 | n).await;
                n += 1;
                if start >= warm_until {
                    lat.push(start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    errors += usize::from(!ok);
                }
            }
            (lat, errors)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("load task");
        latencies_us.extend(l);
        errors += e;
    }
    latencies_us.sort_unstable();
    Stats {
        name: name.to_owned(),
        requests: latencies_us.len(),
        errors,
        elapsed: Duration::from_secs(seconds),
        latencies_us,
        postings_per_call: 0.0,
        vs_pgbench: false,
        versus: None,
    }
}

pub async fn channels(port: u16, n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
                .connect()
                .await?,
        );
    }
    Ok(out)
}

async fn database_url(args: &Args) -> anyhow::Result<String> {
    match &args.database_url {
        Some(url) if url.starts_with("postgres") => {
            use sea_orm::ConnectionTrait;
            let admin = sea_orm::Database::connect(url.as_str()).await?;
            let name = format!("crm_bench_{}", uuid::Uuid::new_v4().simple());
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url);
            Ok(format!("{base}/{name}"))
        }
        Some(url) => Ok(url.clone()),
        None => Ok(format!(
            "sqlite://{}/crm-bench-{}.sqlite",
            std::env::temp_dir().display(),
            uuid::Uuid::new_v4().simple()
        )),
    }
}

/// The ceiling: a bare tonic server (health service only, no middleware).
async fn spawn_baseline() -> anyhow::Result<u16> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(incoming),
    );
    Ok(port)
}

/// The bench's key-encryption key for personal data (not a secret: bench data is synthetic).
/// Every bench server gets it, so none creates a development key under `./data`.
const BENCH_KEK: &str = "Y3JtLWJlbmNoLWtlay1ub3QtYS1zZWNyZXQtMDEyMyE=";

/// Platform settings of a bench server: port 0, the given database and Redis, its own
/// cache prefix, the bench's key-encryption key (`pii.encrypt` as configured: on).
pub fn platform_settings(p: &mut PlatformSettings, db_url: &str, redis_url: &str, cache: bool) {
    p.server.port = 0;
    p.pii.active_key = String::new();
    p.pii.keys = vec![crm_platform::pii::KekSettings {
        id: "bench".into(),
        secret: Secret::new(BENCH_KEK),
        secret_file: String::new(),
    }];
    p.database.url = Secret::new(db_url);
    p.cache.enabled = cache;
    p.cache.redis_url = Secret::new(if cache { redis_url } else { "" });
    p.cache.key_prefix = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    p.security.page_token_secret = Secret::new("bench-page-token-secret-0123456789abcdef");
}

/// One pgbench TPC-B run of `args.seconds` (the database is initialised once, at scale 10).
async fn pgbench(args: &Args, url: &str) -> anyhow::Result<Stats> {
    let out = tokio::process::Command::new(&args.pgbench_bin)
        .args(["-c", "8", "-j", "2", "-T", &args.seconds.to_string(), url])
        .output()
        .await?;
    let text = String::from_utf8_lossy(&out.stdout);
    let tps: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no tps in pgbench output: {text}"))?;
    Ok(Stats {
        name: PGBENCH.to_owned(),
        requests: (tps * args.seconds as f64) as usize,
        errors: 0,
        elapsed: Duration::from_secs(args.seconds),
        latencies_us: Vec::new(),
        postings_per_call: 0.0,
        vs_pgbench: false,
        versus: None,
    })
}

const BASELINE: &str = "bare tonic (health Check)";
const PGBENCH: &str = "pgbench TPC-B, 8 clients (tps)";

/// Every scenario runs once per round, right after the baselines of that round, so a noisy
/// neighbour hurts both; the report takes medians over rounds.
async fn run_rounds(args: &Args) -> anyhow::Result<Vec<Vec<Stats>>> {
    let health: Vec<_> = channels(spawn_baseline().await?, args.connections)
        .await?
        .into_iter()
        .map(HealthClient::new)
        .collect();
    // Only what the run wants is prepared (preloads take a while).
    let customers = match customers::SCENARIOS.iter().any(|s| args.wants(s)) {
        true => Some(
            customers::Bench::prepare(args, &database_url(args).await?, &database_url(args).await?)
                .await?,
        ),
        false => None,
    };
    let customers_scale = customers_scale::Bench::prepare(args, || database_url(args)).await?;
    let loyalty = loyalty::Bench::prepare(args, &database_url(args).await?).await?;
    let tickets = match tickets::SCENARIOS.iter().any(|s| args.wants(s)) {
        true => Some(tickets::Bench::prepare(args, &database_url(args).await?).await?),
        false => None,
    };
    let events = events::Bench::prepare(args, async || database_url(args).await).await?;
    let campaigns = campaigns::Bench::prepare(args, || database_url(args)).await?;
    let campaign_sends = campaign_sends::Bench::prepare(args, || database_url(args)).await?;
    let campaign_report = campaign_report::Bench::prepare(args, || database_url(args)).await?;
    let recommendations = recommendations::Bench::prepare(args, || database_url(args)).await?;
    if let Some(url) = &args.pgbench {
        let init = tokio::process::Command::new(&args.pgbench_bin)
            .args(["-q", "-i", "-s", "10", url])
            .output()
            .await?;
        anyhow::ensure!(init.status.success(), "pgbench -i failed: {init:?}");
    }
    let mut rounds = Vec::new();
    for round in 0..args.rounds {
        eprintln!("round {}/{}", round + 1, args.rounds);
        let mut stats = vec![
            drive(BASELINE, args, &health, |mut c, _| async move {
                c.check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .is_ok()
            })
            .await,
        ];
        if let Some(url) = &args.pgbench {
            stats.push(pgbench(args, url).await?);
        }
        if let Some(b) = &customers {
            stats.extend(b.round(args).await);
        }
        stats.extend(customers_scale.round(args).await);
        stats.extend(loyalty.round(args).await);
        if let Some(b) = &tickets {
            stats.extend(b.round(args).await);
        }
        if let Some(b) = &events {
            stats.extend(b.round(args).await);
        }
        if let Some(b) = &campaigns {
            stats.extend(b.round(args).await);
        }
        if let Some(b) = &campaign_sends {
            stats.push(b.round().await?);
        }
        if let Some(b) = &campaign_report {
            stats.extend(b.round(args).await);
        }
        if let Some(b) = &recommendations {
            stats.extend(b.round(args).await);
        }
        rounds.push(stats);
    }
    Ok(rounds)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// The row of `round` named `name`.
fn find<'a>(round: &'a [Stats], name: &str) -> Option<&'a Stats> {
    round.iter().find(|s| s.name == name)
}

fn report(args: &Args, rounds: &[Vec<Stats>]) -> String {
    let mut s = format!(
        "concurrency {}, {} connections, {} rounds x {} s per scenario, database: {}, redis: {}\n\n",
        args.concurrency,
        args.connections,
        args.rounds,
        args.seconds,
        if args.label.is_empty() {
            "sqlite (temp file)"
        } else {
            &args.label
        },
        if args.redis_url.is_empty() {
            "none (in-process cache)"
        } else {
            "yes"
        }
    );
    s.push_str("| scenario | rate (median) | p50 ms | p99 ms | errors | x baseline (median of rounds) |\n|---|---:|---:|---:|---:|---:|\n");
    let Some(first) = rounds.first() else {
        return s;
    };
    // The baseline a row is compared with, in the same round.
    let baseline_of = |round: &[Stats], row: &Stats| -> Option<f64> {
        let name = match row.versus {
            Some((name, _)) => name,
            None if row.vs_pgbench => PGBENCH,
            None => BASELINE,
        };
        round.iter().find(|s| s.name == name).map(Stats::rate)
    };
    // Rows by name: a scenario measured once (before the rounds) is only in the first.
    for scenario in first {
        let runs: Vec<&Stats> = rounds
            .iter()
            .filter_map(|r| find(r, &scenario.name))
            .collect();
        let rate = median(runs.iter().map(|r| r.rate()).collect());
        let ratios: Vec<f64> = rounds
            .iter()
            .filter_map(|r| {
                let row = find(r, &scenario.name)?;
                Some(row.rate() / baseline_of(r, row)?)
            })
            .collect();
        let ratio = match (scenario.name.as_str(), ratios.is_empty()) {
            (BASELINE | PGBENCH, _) | (_, true) => "-".to_owned(),
            _ => format!(
                "{:.2} (vs {})",
                median(ratios),
                match scenario.versus {
                    Some((_, label)) => label,
                    None if scenario.vs_pgbench => "pgbench",
                    None => "tonic",
                }
            ),
        };
        let mut lat: Vec<u32> = runs
            .iter()
            .flat_map(|r| r.latencies_us.iter().copied())
            .collect();
        lat.sort_unstable();
        let merged = Stats {
            name: String::new(),
            requests: lat.len(),
            errors: 0,
            elapsed: Duration::from_secs(1),
            latencies_us: lat,
            postings_per_call: 0.0,
            vs_pgbench: false,
            versus: None,
        };
        let errors: usize = runs.iter().map(|r| r.errors).sum();
        s.push_str(&format!(
            "| {} | {rate:.0} | {:.2} | {:.2} | {errors} | {ratio} |\n",
            scenario.name,
            merged.pct(0.5),
            merged.pct(0.99)
        ));
    }
    s
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Some(url) = recommendations_rebuild::child_url() {
        return recommendations_rebuild::child(&url).await;
    }
    let args = Args::parse();
    // Builds in processes of their own, before the rounds load this one.
    let rebuild = recommendations_rebuild::run(&args, || database_url(&args)).await?;
    let rounds = run_rounds(&args).await?;
    println!("{}", report(&args, &rounds));
    if let Some(section) = rebuild {
        println!("{section}");
    }
    anyhow::ensure!(
        rounds.iter().flatten().all(|s| s.errors == 0),
        "some requests failed"
    );
    Ok(())
}
