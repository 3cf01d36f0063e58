//! `crm-bench`: measures the customers service next to a bare tonic baseline in one run, so
//! the noisy machine affects both alike. Server and load generator share one process; each
//! scenario gets the same connections, concurrency and duration.
use clap::Parser;
use crm_customers::{Application, Settings};
use crm_platform::config::Secret;
use crm_proto::customers as pb;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

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
    Stats { name: name.to_owned(), requests: latencies_us.len(), errors, elapsed: Duration::from_secs(args.seconds), latencies_us }
}

async fn channels(port: u16, n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?.connect().await?);
    }
    Ok(out)
}

/// The ceiling: a bare tonic server (health service only, no middleware), unary Check.
async fn baseline(args: &Args) -> anyhow::Result<Stats> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(tonic::transport::Server::builder().add_service(health).serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)));
    let clients: Vec<_> = channels(port, args.connections).await?.into_iter().map(tonic_health::pb::health_client::HealthClient::new).collect();
    Ok(drive("bare tonic (health Check)", args, &clients, |mut c, _| async move {
        c.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.is_ok()
    })
    .await)
}

async fn database_url(args: &Args) -> anyhow::Result<String> {
    match &args.database_url {
        Some(url) if url.starts_with("postgres") => {
            use sea_orm::ConnectionTrait;
            let admin = sea_orm::Database::connect(url.as_str()).await?;
            let name = format!("crm_bench_{}", uuid::Uuid::new_v4().simple());
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
            let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url);
            Ok(format!("{base}/{name}"))
        }
        Some(url) => Ok(url.clone()),
        None => Ok(format!("sqlite://{}/crm-bench-{}.sqlite", std::env::temp_dir().display(), uuid::Uuid::new_v4().simple())),
    }
}

async fn spawn_customers(db_url: &str, redis_url: &str, cache: bool) -> anyhow::Result<u16> {
    let mut s = Settings::load(None)?;
    s.platform.server.port = 0;
    s.platform.database.url = Secret::new(db_url);
    s.platform.cache.enabled = cache;
    s.platform.cache.redis_url = Secret::new(redis_url);
    s.platform.cache.key_prefix = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    s.platform.security.page_token_secret = Secret::new("bench-page-token-secret-0123456789abcdef");
    let app = Application::build(s).await?;
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

async fn customers_scenarios(args: &Args, out: &mut Vec<Stats>) -> anyhow::Result<()> {
    let db_url = database_url(args).await?;
    let cached_port = spawn_customers(&db_url, &args.redis_url, true).await?;
    let uncached_port = spawn_customers(&db_url, "", false).await?;
    let cached: Vec<_> = channels(cached_port, args.connections).await?.into_iter().map(CustomerServiceClient::new).collect();
    let uncached: Vec<_> = channels(uncached_port, args.connections).await?.into_iter().map(CustomerServiceClient::new).collect();

    let mut names = Vec::new();
    let mut c = cached[0].clone();
    for i in 0..args.customers {
        names.push(c.create_customer(new_customer(i as u64)).await?.into_inner().name);
    }
    let hot: std::sync::Arc<Vec<String>> = std::sync::Arc::new(names.iter().take(100).cloned().collect());
    let all: std::sync::Arc<Vec<String>> = std::sync::Arc::new(names);

    out.push(
        drive("GetCustomer, cached (hot set of 100)", args, &cached, move |mut c, n| {
            let name = hot[(n as usize * 7919) % hot.len()].clone();
            async move { c.get_customer(pb::GetCustomerRequest { name }).await.is_ok() }
        })
        .await,
    );
    out.push(
        drive("GetCustomer, database (cache off)", args, &uncached, move |mut c, n| {
            let name = all[(n as usize * 7919) % all.len()].clone();
            async move { c.get_customer(pb::GetCustomerRequest { name }).await.is_ok() }
        })
        .await,
    );
    out.push(drive("CreateCustomer", args, &cached, |mut c, n| async move { c.create_customer(new_customer(1_000_000 + n)).await.is_ok() }).await);
    Ok(())
}

fn report(args: &Args, stats: &[Stats]) -> String {
    let base = stats.first().map(Stats::rps).unwrap_or(1.0);
    let mut s = String::new();
    s.push_str(&format!(
        "concurrency {}, {} connections, {} s per scenario, database: {}, redis: {}\n\n",
        args.concurrency,
        args.connections,
        args.seconds,
        if args.label.is_empty() { "sqlite (temp file)" } else { &args.label },
        if args.redis_url.is_empty() { "none (in-process cache)" } else { "yes" }
    ));
    s.push_str("| scenario | rps | p50 ms | p99 ms | errors | x baseline |\n|---|---:|---:|---:|---:|---:|\n");
    for st in stats {
        s.push_str(&format!("| {} | {:.0} | {:.2} | {:.2} | {} | {:.2} |\n", st.name, st.rps(), st.pct(0.5), st.pct(0.99), st.errors, st.rps() / base));
    }
    s
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut stats = vec![baseline(&args).await?];
    customers_scenarios(&args, &mut stats).await?;
    println!("{}", report(&args, &stats));
    anyhow::ensure!(stats.iter().all(|s| s.errors == 0), "some requests failed");
    Ok(())
}
