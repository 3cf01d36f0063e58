//! `crm-bench`: measures the customers service next to a bare tonic baseline in one run, so
//! the noisy machine affects both alike. Server and load generator share one process; each
//! scenario gets the same connections, concurrency and duration.
use clap::Parser;

// The service binaries' allocator, so the bench measures what ships.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use crm_customers::Settings;
use crm_platform::config::Secret;
use crm_proto::customers as pb;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[derive(Parser, Debug)]
struct Args {
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// HTTP/2 connections the load is spread over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Database for the service scenarios: a sqlite:// URL, or an admin postgres:// URL (a
    /// fresh database is created in it). Default: a temporary SQLite file.
    #[arg(long, env = "CRM_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Redis for the cache scenarios; empty: in-process cache only.
    #[arg(long, env = "CRM_BENCH_REDIS_URL", default_value = "")]
    redis_url: String,
    /// Customers preloaded; hot reads pick among the first 100.
    #[arg(long, default_value_t = 2000)]
    customers: usize,
    /// Rounds; each runs the baseline and then every scenario.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Run only scenarios whose name contains this (e.g. "cached"); the baseline always runs.
    #[arg(long, default_value = "")]
    only: String,
    /// Label for the database column of the report.
    #[arg(long, default_value = "")]
    label: String,
}

struct Stats {
    name: String,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

/// Runs `call` from `concurrency` tasks for `seconds`; every task has its own client clone.
async fn drive<C, F, Fut>(name: &str, args: &Args, clients: &[C], call: F) -> Stats
where
    C: Clone + Send + 'static,
    F: Fn(C, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    // Warm up connections and caches for a second; not counted.
    let warm_until = Instant::now() + Duration::from_secs(1);
    let deadline = warm_until + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for t in 0..args.concurrency {
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
        elapsed: Duration::from_secs(args.seconds),
        latencies_us,
    }
}

async fn channels(port: u16, n: usize) -> anyhow::Result<Vec<Channel>> {
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

async fn spawn_customers(db_url: &str, redis_url: &str, cache: bool) -> anyhow::Result<u16> {
    let mut s = Settings::load(None)?;
    s.platform.server.port = 0;
    s.platform.database.url = Secret::new(db_url);
    s.platform.cache.enabled = cache;
    s.platform.cache.redis_url = Secret::new(redis_url);
    s.platform.cache.key_prefix =
        format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    s.platform.security.page_token_secret = Secret::new("bench-page-token-secret-0123456789abcdef");
    let app = crm_customers::application(s).await?;
    let port = app.port();
    tokio::spawn(app.run_until(std::future::pending()));
    Ok(port)
}

fn new_customer(i: u64) -> pb::CreateCustomerRequest {
    pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            display_name: format!("Bench Customer {i}"),
            primary_email: format!("bench{i}-{}@example.com", uuid::Uuid::new_v4().simple()),
            phones: vec![format!("+86138{:08}", i % 100_000_000)],
            tags: vec!["bench".into()],
            ..Default::default()
        }),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

/// The ceiling: a bare tonic server (health service only, no middleware).
async fn spawn_baseline() -> anyhow::Result<u16> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(incoming),
    );
    Ok(port)
}

const BASELINE: &str = "bare tonic (health Check)";
const HOT: &str = "GetCustomer, cached (hot set of 100)";
const COLD: &str = "GetCustomer, database (cache off)";
const CREATE: &str = "CreateCustomer";

/// Every scenario runs once per round, right after the baseline of that round, so a noisy
/// neighbour hurts both; the report takes medians over rounds.
async fn run_rounds(args: &Args) -> anyhow::Result<Vec<Vec<Stats>>> {
    let base_port = spawn_baseline().await?;
    let health: Vec<_> = channels(base_port, args.connections)
        .await?
        .into_iter()
        .map(HealthClient::new)
        .collect();
    let db_url = database_url(args).await?;
    let cached_port = spawn_customers(&db_url, &args.redis_url, true).await?;
    let uncached_port = spawn_customers(&db_url, "", false).await?;
    let cached: Vec<_> = channels(cached_port, args.connections)
        .await?
        .into_iter()
        .map(CustomerServiceClient::new)
        .collect();
    let uncached: Vec<_> = channels(uncached_port, args.connections)
        .await?
        .into_iter()
        .map(CustomerServiceClient::new)
        .collect();

    let mut names = Vec::new();
    let mut c = cached[0].clone();
    for i in 0..args.customers {
        names.push(
            c.create_customer(new_customer(i as u64))
                .await?
                .into_inner()
                .name,
        );
    }
    let hot: Arc<Vec<String>> = Arc::new(names.iter().take(100).cloned().collect());
    let all: Arc<Vec<String>> = Arc::new(names);
    let wanted = |name: &str| name.contains(args.only.as_str());

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
        if wanted(HOT) {
            let hot = hot.clone();
            stats.push(
                drive(HOT, args, &cached, move |mut c, n| {
                    let name = hot[(n as usize * 7919) % hot.len()].clone();
                    async move {
                        c.get_customer(pb::GetCustomerRequest { name })
                            .await
                            .is_ok()
                    }
                })
                .await,
            );
        }
        if wanted(COLD) {
            let all = all.clone();
            stats.push(
                drive(COLD, args, &uncached, move |mut c, n| {
                    let name = all[(n as usize * 7919) % all.len()].clone();
                    async move {
                        c.get_customer(pb::GetCustomerRequest { name })
                            .await
                            .is_ok()
                    }
                })
                .await,
            );
        }
        if wanted(CREATE) {
            stats.push(
                drive(CREATE, args, &cached, |mut c, n| async move {
                    c.create_customer(new_customer(1_000_000 + n)).await.is_ok()
                })
                .await,
            );
        }
        rounds.push(stats);
    }
    Ok(rounds)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
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
    s.push_str("| scenario | rps (median) | p50 ms | p99 ms | errors | x baseline (median of rounds) |\n|---|---:|---:|---:|---:|---:|\n");
    let Some(first) = rounds.first() else {
        return s;
    };
    for (i, scenario) in first.iter().enumerate() {
        let runs: Vec<&Stats> = rounds.iter().filter_map(|r| r.get(i)).collect();
        let rps = median(runs.iter().map(|r| r.rps()).collect());
        let ratio = median(
            rounds
                .iter()
                .filter_map(|r| Some(r.get(i)?.rps() / r.first()?.rps()))
                .collect(),
        );
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
        };
        let errors: usize = runs.iter().map(|r| r.errors).sum();
        s.push_str(&format!(
            "| {} | {rps:.0} | {:.2} | {:.2} | {errors} | {ratio:.2} |\n",
            scenario.name,
            merged.pct(0.5),
            merged.pct(0.99)
        ));
    }
    s
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rounds = run_rounds(&args).await?;
    println!("{}", report(&args, &rounds));
    anyhow::ensure!(
        rounds.iter().flatten().all(|s| s.errors == 0),
        "some requests failed"
    );
    Ok(())
}
