//! Recommendations serving: SimilarItems and RecommendForCustomer, top 10, on a model built
//! from the rebuild scenario's synthetic data (`CRM_BENCH_SERVING_INTERACTIONS`, 100,000 by
//! default: 5,000 customers, 5,000 items, a power-law popularity). Each call is first driven
//! closed-loop (the maximum rate), then open-loop at half that rate for the latency a caller
//! sees below saturation (measured from each call's scheduled start, so a stall counts for
//! every call it delays). Items are drawn from the 200 most popular, customers from 200 with a
//! history: hot lists, as a product page or a home page would ask.
use crate::recommendations_rebuild::seed;
use crate::{Args, Stats, channels, drive, platform_settings};
use crm_proto::recommendations as pb;
use crm_proto::recommendations::recommendation_service_client::RecommendationServiceClient;
use crm_recommendations::store::entities::interaction;
use sea_orm::{EntityTrait, QuerySelect};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const SIMILAR: &str = "SimilarItems top 10 (hot item)";
const RECOMMEND: &str = "RecommendForCustomer top 10";
const SIMILAR_HALF: &str = "SimilarItems top 10 at half the max rate (open loop)";
const RECOMMEND_HALF: &str = "RecommendForCustomer top 10 at half the max rate (open loop)";
/// The open-loop latency of the machine itself at that rate: the context of the p99 goal.
const BARE_HALF: &str = "bare tonic at SimilarItems top 10's half rate (open loop)";
pub const SCENARIOS: [&str; 5] = [SIMILAR, RECOMMEND, SIMILAR_HALF, RECOMMEND_HALF, BARE_HALF];

/// Hot items and customers the calls pick from.
const HOT: usize = 200;

type Client = RecommendationServiceClient<Channel>;

pub struct Bench {
    service: crm_recommendations::service::RecommendationService,
    clients: Vec<Client>,
    health: Vec<HealthClient<Channel>>,
    items: Arc<Vec<String>>,
    customers: Arc<Vec<String>>,
}

fn interactions() -> usize {
    std::env::var("CRM_BENCH_SERVING_INTERACTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

impl Bench {
    pub async fn prepare(
        args: &Args,
        fresh_db: impl AsyncFn() -> anyhow::Result<String>,
    ) -> anyhow::Result<Option<Self>> {
        if !SCENARIOS.iter().any(|s| args.wants(s)) {
            return Ok(None);
        }
        let url = fresh_db().await?;
        let mut s = crm_recommendations::Settings::load(None)?;
        platform_settings(&mut s.platform, &url, &args.redis_url, true);
        // Measured alone: no scheduled rebuild while the calls run.
        s.recommendations.rebuild.interval_secs = 0;
        let app = crm_recommendations::application(s).await?;
        let port = app.port();
        let db = app.service().db().clone();
        let service = app.service().clone();
        tokio::spawn(app.run_until(std::future::pending()));
        seed(&db, interactions()).await?;
        let clients: Vec<Client> = channels(port, args.connections)
            .await?
            .into_iter()
            .map(RecommendationServiceClient::new)
            .collect();
        let started = Instant::now();
        let model = clients[0]
            .clone()
            .rebuild_model(pb::RebuildModelRequest {
                request_id: uuid::Uuid::new_v4().to_string(),
            })
            .await?
            .into_inner();
        eprintln!(
            "recommendations serving: model {} built in {:?} ({} interactions, {} items)",
            model.version,
            started.elapsed(),
            model.interaction_count,
            model.item_count
        );
        // The seed's item numbers follow popularity: the low ones are the hot items.
        let items = (0..HOT).map(|i| format!("items/sku-{i}")).collect();
        let ids: Vec<uuid::Uuid> = interaction::Entity::find()
            .select_only()
            .column(interaction::Column::CustomerId)
            .distinct()
            .limit(HOT as u64)
            .into_tuple()
            .all(&db)
            .await?;
        let customers = ids.iter().map(|id| format!("customers/{id}")).collect();
        let health = channels(crate::spawn_baseline().await?, args.connections)
            .await?
            .into_iter()
            .map(HealthClient::new)
            .collect();
        Ok(Some(Self {
            service,
            clients,
            health,
            items: Arc::new(items),
            customers: Arc::new(customers),
        }))
    }

    pub async fn round(&self, args: &Args) -> Vec<Stats> {
        let mut stats = Vec::new();
        let items = self.items.clone();
        let similar = move |mut c: Client, n: u64| {
            let item = items[n as usize % items.len()].clone();
            async move {
                c.similar_items(pb::SimilarItemsRequest {
                    item,
                    max_results: 10,
                    ..Default::default()
                })
                .await
                .is_ok_and(|r| !r.get_ref().items.is_empty())
            }
        };
        let customers = self.customers.clone();
        let recommend = move |mut c: Client, n: u64| {
            let customer = customers[n as usize % customers.len()].clone();
            async move {
                c.recommend_for_customer(pb::RecommendForCustomerRequest {
                    customer,
                    max_results: 10,
                    ..Default::default()
                })
                .await
                .is_ok_and(|r| !r.get_ref().items.is_empty())
            }
        };
        stats.extend(pair(SIMILAR, SIMILAR_HALF, args, &self.clients, similar).await);
        if args.wants(BARE_HALF)
            && let Some(closed) = stats.iter().find(|s| s.name == SIMILAR)
        {
            let check = |mut c: HealthClient<Channel>, _| async move {
                c.check(HealthCheckRequest::default()).await.is_ok()
            };
            let rate = (closed.rps() / 2.0).max(1.0);
            stats.push(open_loop(BARE_HALF, args, rate, &self.health, check).await);
        }
        stats.extend(pair(RECOMMEND, RECOMMEND_HALF, args, &self.clients, recommend).await);
        let log = self.service.served_log();
        log.flush().await;
        let answers: u64 = stats.iter().map(|s| s.requests as u64).sum();
        eprintln!(
            "recommendations serving: about {answers} answers this round; served without their record since start: {}",
            log.dropped()
        );
        stats
    }
}

/// The call closed-loop (`closed`), then open-loop at half the rate it reached (`open`).
async fn pair<F, Fut>(
    closed: &'static str,
    open: &'static str,
    args: &Args,
    clients: &[Client],
    call: F,
) -> Vec<Stats>
where
    F: Fn(Client, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    if !args.wants(closed) && !args.wants(open) {
        return Vec::new();
    }
    let max = drive(closed, args, clients, call.clone()).await;
    let rate = (max.rps() / 2.0).max(1.0);
    let half = open_loop(open, args, rate, clients, call).await;
    vec![max, half.versus(closed, "closed loop")]
}

/// Starts a call every `1 / rate` seconds for `args.seconds` (after a second of warm-up),
/// whatever the answers' pace; a call's latency counts from its scheduled start.
async fn open_loop<C, F, Fut>(name: &str, args: &Args, rate: f64, clients: &[C], call: F) -> Stats
where
    C: Clone + Send + 'static,
    F: Fn(C, u64) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let period = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now();
    let warm = Duration::from_secs(1);
    let total = warm + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    let mut n: u64 = 0;
    loop {
        let due = start + period.mul_f64(n as f64);
        if due - start >= total {
            break;
        }
        tokio::time::sleep_until(due).await;
        let client = clients[n as usize % clients.len()].clone();
        let call = call.clone();
        let counted = due - start >= warm;
        tasks.push(tokio::spawn(async move {
            let ok = call(client, n).await;
            let us = due.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
            (counted, ok, us)
        }));
        n += 1;
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (counted, ok, us) = t.await.expect("open-loop call");
        if counted {
            latencies_us.push(us);
            errors += usize::from(!ok);
        }
    }
    latencies_us.sort_unstable();
    Stats {
        name: name.to_owned(),
        requests: latencies_us.len(),
        errors,
        elapsed: Duration::from_secs(args.seconds),
        latencies_us,
        postings_per_call: 0.0,
        vs_pgbench: false,
        versus: None,
    }
}
