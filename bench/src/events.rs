//! Events scenarios (issue 12): what the transactional outbox costs a producing write, and
//! purchase -> points end to end, from the RecordActivity commit to the consumer's effect.
//!
//! - Outbox cost: `RecordActivity` (a purchase) on two customers servers, each on a database
//!   of its own: one as shipped (outbox row in the write's transaction, relay publishing it),
//!   one whose database discards the outbox row (a PostgreSQL rule / SQLite trigger made here,
//!   so the service code is the shipped one; its relay finds nothing). The discarded insert
//!   is still sent, so the ratio is the cost of storing and relaying the row, not of encoding
//!   the event and sending the statement (see BENCHMARKS.md).
//! - Purchase -> points: a customers server and a consumer of its stream on a database of its
//!   own, sharing the bus: loyalty (group loyalty.customers), or a bench handler (one insert
//!   per purchase) that shows the backbone alone. A purchase's effect is visible when its
//!   inbox row is: that row commits in the transaction of the effects. The watcher maps event
//!   ids to orders with a group of its own on the customers stream (a tap: it sees each entry
//!   once, as published) and polls the consumer's inbox for them; the latency is from the
//!   RecordActivity answer (after its commit) to the poll that saw the inbox row.
use crate::customers::new_customer;
use crate::{Args, Stats, channels, drive, platform_settings};
use crm_platform::Error;
use crm_platform::config::Secret;
use crm_platform::events::{
    CreateEventInbox, Envelope, EventBus, Events, Handler, Subscription, payload_of,
};
use crm_platform::jobs::Jobs;
use crm_proto::customers as pb;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use crm_proto::events::event::Payload;
use crm_proto::events::types::ACTIVITY_RECORDED;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

pub const COST_ON: &str = "events: RecordActivity purchase, outbox + relay";
pub const COST_OFF: &str = "events: RecordActivity purchase, outbox row discarded";
/// Every scenario's name starts with this (`CRM_BENCH_ONLY=events`).
const PREFIX: &str = "events:";
/// Customers each producing server has; purchases spread over them.
const CUSTOMERS: usize = 500;
/// Most purchases in flight in the open-loop load, twice the closed loop's: past that the
/// producer is not keeping up, and the achieved rate falls below the offered one.
const OPEN_LOOP_IN_FLIGHT: usize = 64;
/// Waiting events the watcher probes the inbox for per statement.
const PROBE: usize = 32;
/// How often the watcher looks for applied purchases.
const WATCH_EVERY: Duration = Duration::from_millis(5);
/// How long after the last purchase the watcher waits for the stragglers.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

type Client = CustomerServiceClient<Channel>;

pub struct Bench {
    cost: Option<(Producer, Producer)>,
    flows: Vec<Flow>,
    /// Catch-up rates, measured once (before the rounds), reported with the first round.
    catch_up: Mutex<Vec<Stats>>,
    /// Keeps the bench consumer's jobs running.
    _jobs: Jobs,
}

/// A customers server and the customers it has.
struct Producer {
    clients: Vec<Client>,
    customers: Arc<Vec<String>>,
    db: DatabaseConnection,
}

/// A producer and a consumer of its stream.
struct Flow {
    label: &'static str,
    producer: Producer,
    /// The bench's own group on the stream: which event carries which order.
    tap: tokio::sync::Mutex<Subscription>,
    /// Where the consumer's inbox is.
    consumer_db: DatabaseConnection,
    group: String,
    /// Counts the effects of orders `LIKE $1` in the consumer's database (checked after
    /// each load: every purchase seen applied must have its effect).
    effects_sql: &'static str,
}

/// The consumers a run measures purchase -> effect with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ConsumerKind {
    /// The bench's own handler: inbox row + one insert per purchase.
    Bench,
    /// Loyalty's consumer (group loyalty.customers): purchase points.
    Loyalty,
}

impl ConsumerKind {
    fn label(self) -> &'static str {
        match self {
            Self::Bench => "bench handler",
            Self::Loyalty => "loyalty points",
        }
    }
}

/// Every scenario name of `kind`'s flow.
fn flow_names(kind: ConsumerKind) -> [String; 3] {
    ["catch-up", "open", "closed"].map(|load| flow_name(kind.label(), load))
}

fn wanted(args: &Args) -> bool {
    args.wants(COST_ON)
        || args.wants(COST_OFF)
        || args
            .events_consumers
            .iter()
            .any(|k| flow_names(*k).iter().any(|n| args.wants(n)))
}

/// Platform settings of one events scenario: its own stream prefix on the run's bus.
fn settings_for(
    p: &mut crm_platform::config::PlatformSettings,
    db: &str,
    args: &Args,
    prefix: &str,
) {
    platform_settings(p, db, &args.redis_url, true);
    p.events.redis_url = Secret::new(&args.redis_url);
    p.events.key_prefix = prefix.to_owned();
}

fn random_prefix() -> String {
    format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

async fn connect(db_url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut s = crm_customers::Settings::load(None)?;
    s.platform.database.url = Secret::new(db_url);
    crm_platform::db::connect(&s.platform.database, "bench").await
}

impl Producer {
    /// A customers server on `db_url` publishing under `prefix`, with [`CUSTOMERS`] customers.
    async fn start(args: &Args, db_url: &str, prefix: &str) -> anyhow::Result<Self> {
        let mut s = crm_customers::Settings::load(None)?;
        settings_for(&mut s.platform, db_url, args, prefix);
        let app = crm_customers::application(s).await?;
        let port = app.port();
        tokio::spawn(app.run_until(std::future::pending()));
        let clients: Vec<Client> = channels(port, args.connections)
            .await?
            .into_iter()
            .map(CustomerServiceClient::new)
            .collect();
        let mut c = clients[0].clone();
        let mut customers = Vec::with_capacity(CUSTOMERS);
        for i in 0..CUSTOMERS {
            customers.push(
                c.create_customer(new_customer(i as u64))
                    .await?
                    .into_inner()
                    .name,
            );
        }
        Ok(Self {
            clients,
            customers: Arc::new(customers),
            db: connect(db_url).await?,
        })
    }
}

/// A purchase of `customer` with order id `order`, happening now.
fn purchase(customer: String, order: String) -> pb::RecordActivityRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let money = |amount_minor| {
        Some(crm_proto::common::Money {
            currency_code: "CNY".into(),
            amount_minor,
        })
    };
    pb::RecordActivityRequest {
        parent: customer,
        activity: Some(pb::Activity {
            kind: pb::ActivityKind::Purchase as i32,
            occur_time: Some(prost_types::Timestamp {
                seconds: now.as_secs() as i64,
                nanos: 0,
            }),
            channel: "web".into(),
            amount: money(12_800),
            items: vec![pb::PurchaseItem {
                item_id: "sku-1".into(),
                quantity: 2,
                unit_price: money(6_400),
            }],
            reference: order,
            ..Default::default()
        }),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

/// The database whose outbox row inserts are dropped: same schema, same statements, no row.
async fn discard_outbox_rows(db: &DatabaseConnection) -> anyhow::Result<()> {
    let ddl = match db.get_database_backend() {
        DbBackend::Postgres => {
            "CREATE RULE bench_discard_outbox AS ON INSERT TO event_outbox DO INSTEAD NOTHING"
        }
        _ => {
            "CREATE TRIGGER bench_discard_outbox BEFORE INSERT ON event_outbox BEGIN SELECT RAISE(IGNORE); END"
        }
    };
    db.execute_unprepared(ddl).await?;
    Ok(())
}

/// The bench's consumer: records each purchase once, in the inbox's transaction.
struct BenchPoints;

impl Handler for BenchPoints {
    fn event_types(&self) -> &[&str] {
        &[ACTIVITY_RECORDED]
    }

    async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
        let Payload::ActivityRecorded(a) = payload_of(event)? else {
            return Ok(());
        };
        let Some(order) = a.order else {
            return Ok(());
        };
        let amount = order.amount.map(|m| m.amount_minor).unwrap_or(0);
        let backend = txn.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "INSERT INTO bench_points (order_id, customer, amount_minor) VALUES ($1, $2, $3)"
            }
            _ => "INSERT INTO bench_points (order_id, customer, amount_minor) VALUES (?, ?, ?)",
        };
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [order.order_id.into(), a.customer.into(), amount.into()],
        ))
        .await?;
        Ok(())
    }
}

crm_platform::migrator!(BenchConsumerSchema: [CreateEventInbox]);

impl Bench {
    pub async fn prepare(
        args: &Args,
        mut database_url: impl AsyncFnMut() -> anyhow::Result<String>,
    ) -> anyhow::Result<Option<Self>> {
        if !wanted(args) {
            return Ok(None);
        }
        let mut jobs = Jobs::new();
        let cost = if args.wants(COST_ON) || args.wants(COST_OFF) {
            let on = Producer::start(args, &database_url().await?, &random_prefix()).await?;
            let off = Producer::start(args, &database_url().await?, &random_prefix()).await?;
            discard_outbox_rows(&off.db).await?;
            Some((on, off))
        } else {
            None
        };
        let mut flows = Vec::new();
        let mut catch_up = Vec::new();
        for kind in &args.events_consumers {
            let label = kind.label();
            let names = flow_names(*kind);
            if !names.iter().any(|n| args.wants(n)) {
                continue;
            }
            let prefix = random_prefix();
            let producer = Producer::start(args, &database_url().await?, &prefix).await?;
            let tap = {
                let mut s = crm_customers::Settings::load(None)?;
                settings_for(&mut s.platform, "sqlite::memory:", args, &prefix);
                let stream = crm_platform::events::stream_name(&s.platform.events, "customers");
                let mut tap = EventBus::from_settings(&s.platform.events)?.subscribe(
                    &stream,
                    "bench.tap",
                    "tap",
                );
                tap.pending().await?; // creates the group (it reads the stream from its start)
                tokio::sync::Mutex::new(tap)
            };
            let consumer_url = database_url().await?;
            // A backlog first, then the consumer: how fast it catches up.
            let backlog = args.events_backlog;
            let backlog_tag = format!("backlog{prefix}");
            let sent = produce(&producer, &backlog_tag, Load::Count(backlog), args).await;
            anyhow::ensure!(sent.errors == 0, "{} backlog purchases failed", sent.errors);
            let (consumer_db, group, effects_sql) = match kind {
                ConsumerKind::Bench => {
                    let db = connect(&consumer_url).await?;
                    crm_platform::db::migrate::<BenchConsumerSchema>(&db).await?;
                    db.execute_unprepared(
                        "CREATE TABLE bench_points (order_id TEXT PRIMARY KEY, customer TEXT NOT NULL, amount_minor BIGINT NOT NULL)",
                    )
                    .await?;
                    let mut s = crm_customers::Settings::load(None)?;
                    settings_for(&mut s.platform, &consumer_url, args, &prefix);
                    let events = Events::new(&s.platform.events, "bench", db.clone())?;
                    events.start_consumer(&mut jobs, "customers", "points", BenchPoints);
                    (
                        db,
                        "bench.points".to_owned(),
                        "SELECT COUNT(*) AS n FROM bench_points WHERE order_id LIKE $1",
                    )
                }
                ConsumerKind::Loyalty => {
                    let mut s = crm_loyalty::Settings::load(None)?;
                    settings_for(&mut s.platform, &consumer_url, args, &prefix);
                    let app = crm_loyalty::application(s).await?;
                    tokio::spawn(app.run_until(std::future::pending()));
                    (
                        connect(&consumer_url).await?,
                        "loyalty.customers".to_owned(),
                        "SELECT COUNT(*) AS n FROM loyalty_orders WHERE order_id LIKE $1 AND earned > 0",
                    )
                }
            };
            let flow = Flow {
                label,
                producer,
                tap,
                consumer_db,
                group,
                effects_sql,
            };
            if args.wants(&names[0]) {
                catch_up.push(
                    flow.catch_up(&names[0], &backlog_tag, backlog as u64)
                        .await?,
                );
            }
            flows.push(flow);
        }
        Ok(Some(Self {
            cost,
            flows,
            catch_up: Mutex::new(catch_up),
            _jobs: jobs,
        }))
    }

    pub async fn round(&self, args: &Args) -> Vec<Stats> {
        let mut stats = std::mem::take(&mut *self.catch_up.lock().expect("catch-up"));
        if let Some((on, off)) = &self.cost {
            for (name, p) in [(COST_ON, on), (COST_OFF, off)] {
                if args.wants(name) {
                    let s = record_purchases(name, args, p).await;
                    stats.push(if name == COST_ON {
                        s.versus(COST_OFF, "no outbox")
                    } else {
                        s
                    });
                }
            }
        }
        for flow in &self.flows {
            let open = flow_name(flow.label, "open");
            if args.wants(&open) {
                let load = Load::Open(args.events_rate);
                stats.extend(flow.measure(&open, load, args).await);
            }
            let closed = flow_name(flow.label, "closed");
            if args.wants(&closed) {
                let load = Load::Closed(args.concurrency);
                stats.extend(flow.measure(&closed, load, args).await);
            }
        }
        stats
    }
}

fn flow_name(label: &str, load: &str) -> String {
    format!("{PREFIX} purchase -> {label}, {load}")
}

/// Closed-loop purchases with `args.concurrency` in flight (the outbox-cost scenarios).
async fn record_purchases(name: &str, args: &Args, p: &Producer) -> Stats {
    let customers = p.customers.clone();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    drive(name, args, &p.clients, move |mut c, n| {
        let customer = customers[(n as usize).wrapping_mul(7919) % customers.len()].clone();
        let order = format!("{tag}-{n}");
        async move { c.record_activity(purchase(customer, order)).await.is_ok() }
    })
    .await
}

/// How purchases are sent.
#[derive(Clone, Copy)]
enum Load {
    /// At a fixed rate per second, whatever the answers take (up to a cap in flight).
    Open(u64),
    /// With this many in flight, each sent when the previous one answered.
    Closed(usize),
    /// This many, 32 in flight, as fast as they go.
    Count(usize),
}

/// What a load sent: each answered order and when its answer came, and the failures.
#[derive(Default)]
struct Sent {
    answered: Vec<(String, Instant)>,
    call_latencies_us: Vec<u32>,
    errors: usize,
    elapsed: Duration,
}

/// Sends purchases tagged `tag` (order ids `{tag}-{n}`) with `load` for `args.seconds`.
async fn produce(p: &Producer, tag: &str, load: Load, args: &Args) -> Sent {
    let sent = Arc::new(Mutex::new(Sent::default()));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.seconds);
    let one = {
        let (clients, customers, tag, sent) = (
            p.clients.clone(),
            p.customers.clone(),
            tag.to_owned(),
            sent.clone(),
        );
        move |n: u64| {
            let mut c = clients[n as usize % clients.len()].clone();
            let customer = customers[(n as usize).wrapping_mul(7919) % customers.len()].clone();
            let order = format!("{tag}-{n}");
            let sent = sent.clone();
            async move {
                let t = Instant::now();
                let ok = c
                    .record_activity(purchase(customer, order.clone()))
                    .await
                    .is_ok();
                let now = Instant::now();
                let mut s = sent.lock().expect("sent");
                s.call_latencies_us
                    .push((now - t).as_micros().min(u128::from(u32::MAX)) as u32);
                if ok {
                    s.answered.push((order, now));
                } else {
                    s.errors += 1;
                }
            }
        }
    };
    match load {
        Load::Open(rate) => {
            let cap = Arc::new(tokio::sync::Semaphore::new(OPEN_LOOP_IN_FLIGHT));
            let total = rate * args.seconds;
            let mut tasks = Vec::with_capacity(total as usize);
            for n in 0..total {
                tokio::time::sleep_until(
                    (start + Duration::from_nanos(n * 1_000_000_000 / rate)).into(),
                )
                .await;
                let permit = cap.clone().acquire_owned().await.expect("permits");
                let call = one(n);
                tasks.push(tokio::spawn(async move {
                    call.await;
                    drop(permit);
                }));
            }
            for t in tasks {
                t.await.ok();
            }
        }
        Load::Closed(in_flight) => {
            let next = Arc::new(AtomicU64::new(0));
            let tasks: Vec<_> = (0..in_flight)
                .map(|_| {
                    let (one, next) = (one.clone(), next.clone());
                    tokio::spawn(async move {
                        while Instant::now() < deadline {
                            one(next.fetch_add(1, Ordering::Relaxed)).await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.ok();
            }
        }
        Load::Count(total) => {
            let next = Arc::new(AtomicU64::new(0));
            let tasks: Vec<_> = (0..32)
                .map(|_| {
                    let (one, next) = (one.clone(), next.clone());
                    tokio::spawn(async move {
                        loop {
                            let n = next.fetch_add(1, Ordering::Relaxed);
                            if n >= total as u64 {
                                break;
                            }
                            one(n).await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.ok();
            }
        }
    }
    let mut s = std::mem::take(&mut *sent.lock().expect("sent"));
    s.elapsed = start.elapsed();
    s
}

/// Placeholders `first..first+n` of `backend`.
fn placeholders(backend: DbBackend, first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| match backend {
            DbBackend::Postgres => format!("${i}"),
            _ => "?".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Follows one flow's purchases: which event carries which order (from the tap), and
/// when each event's inbox row became visible.
struct Watcher<'a> {
    flow: &'a Flow,
    tag: String,
    /// Events of this tag not seen applied yet, oldest first: (event id, order id).
    waiting: VecDeque<(String, String)>,
    /// When the tap first saw each order's event on the stream.
    published: HashMap<String, Instant>,
    applied: HashMap<String, Instant>,
}

/// Most entries one tap read takes.
const TAP_READ: usize = 1000;

impl<'a> Watcher<'a> {
    fn new(flow: &'a Flow, tag: &str) -> Self {
        Self {
            flow,
            tag: format!("{tag}-"),
            waiting: VecDeque::new(),
            published: HashMap::new(),
            applied: HashMap::new(),
        }
    }

    /// Entries published since the last read: those of this tag become waiting events.
    async fn read_stream(&mut self) -> anyhow::Result<()> {
        let mut tap = self.flow.tap.lock().await;
        loop {
            let batch = tap.read(TAP_READ, Duration::ZERO).await?;
            let ids: Vec<String> = batch.iter().map(|d| d.entry_id.clone()).collect();
            let now = Instant::now();
            for d in &batch {
                let Ok(envelope) = d.envelope() else { continue };
                if let Ok(Payload::ActivityRecorded(a)) = payload_of(&envelope)
                    && let Some(order) = a.order
                    && order.order_id.starts_with(&self.tag)
                {
                    self.published.insert(order.order_id.clone(), now);
                    self.waiting
                        .push_back((envelope.id.to_string(), order.order_id));
                }
            }
            tap.ack(&ids).await?;
            if batch.len() < TAP_READ {
                return Ok(());
            }
        }
    }

    /// Waiting events whose inbox row is visible now are applied, at `now`. The consumer
    /// applies in stream order, so the oldest are probed first, a chunk at a time, the next
    /// chunk only when the whole previous one was applied: the watcher's own load on the
    /// consumer's database stays small.
    async fn read_inbox(&mut self) -> anyhow::Result<()> {
        let db = &self.flow.consumer_db;
        let backend = db.get_database_backend();
        let mut skip = 0;
        loop {
            let probe: Vec<String> = self
                .waiting
                .iter()
                .skip(skip)
                .take(PROBE)
                .map(|(e, _)| e.clone())
                .collect();
            if probe.is_empty() {
                return Ok(());
            }
            let sql = format!(
                "SELECT event_id FROM event_inbox WHERE consumer = {} AND event_id IN ({})",
                placeholders(backend, 1, 1),
                placeholders(backend, 2, probe.len())
            );
            let probed = probe.len();
            let mut values: Vec<sea_orm::Value> = vec![self.flow.group.clone().into()];
            values.extend(probe.into_iter().map(Into::into));
            let rows = db
                .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
                .await?;
            let now = Instant::now();
            let mut seen = std::collections::HashSet::new();
            for row in rows {
                seen.insert(row.try_get::<String>("", "event_id")?);
            }
            let found = seen.len();
            let applied = &mut self.applied;
            let mut i = 0;
            self.waiting.retain(|(event, order)| {
                i += 1;
                if i > skip && i <= skip + probed && seen.contains(event) {
                    applied.insert(order.clone(), now);
                    false
                } else {
                    true
                }
            });
            if found < probed {
                return Ok(());
            }
            skip += probed - found;
        }
    }
}

impl Flow {
    /// A load of purchases, watched until each is applied: effects/s with the end-to-end
    /// latency, and the producing calls/s with their own latency.
    async fn measure(&self, name: &str, load: Load, args: &Args) -> Vec<Stats> {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let mut watcher = Watcher::new(self, &tag);
        // Purchases answered, once the load is done.
        let answered = Arc::new(AtomicUsize::new(usize::MAX));
        let started = Instant::now();
        let sent = {
            let watch = async {
                let mut drained_at = None;
                loop {
                    let round = async {
                        watcher.read_stream().await?;
                        watcher.read_inbox().await
                    };
                    if let Err(e) = round.await {
                        eprintln!("{name}: watching: {e}");
                    }
                    let target = answered.load(Ordering::SeqCst);
                    if target != usize::MAX {
                        let since = *drained_at.get_or_insert_with(Instant::now);
                        if watcher.applied.len() >= target || since.elapsed() > DRAIN_LIMIT {
                            return;
                        }
                    }
                    tokio::time::sleep(WATCH_EVERY).await;
                }
            };
            let send = async {
                let s = produce(&self.producer, &tag, load, args).await;
                answered.store(s.answered.len(), Ordering::SeqCst);
                s
            };
            let (s, ()) = tokio::join!(send, watch);
            s
        };
        // Orders answered but never seen applied (or never seen in the outbox) are failures.
        let us = |d: Duration| d.as_micros().min(u128::from(u32::MAX)) as u32;
        let mut latencies_us = Vec::with_capacity(sent.answered.len());
        let mut relay_us = Vec::with_capacity(sent.answered.len());
        let mut missing = 0;
        let (mut last, mut last_published) = (started, started);
        for (order, answered) in &sent.answered {
            if let Some(at) = watcher.published.get(order) {
                last_published = last_published.max(*at);
                relay_us.push(us(at.saturating_duration_since(*answered)));
            }
            match watcher.applied.get(order) {
                Some(at) => {
                    last = last.max(*at);
                    latencies_us.push(us(at.saturating_duration_since(*answered)));
                }
                None => missing += 1,
            }
        }
        relay_us.sort_unstable();
        if missing > 0 {
            eprintln!("{name}: {missing} purchases never seen applied");
        }
        let seen = latencies_us.len();
        match self.effects(&tag).await {
            Ok(n) if n == seen => {}
            Ok(n) => {
                eprintln!("{name}: {seen} purchases applied, {n} with their effect");
                missing += seen.abs_diff(n);
            }
            Err(e) => {
                eprintln!("{name}: counting effects: {e}");
                missing += seen;
            }
        }
        latencies_us.sort_unstable();
        let mut calls = sent.call_latencies_us;
        calls.sort_unstable();
        let calls = Stats {
            name: format!("{name}: RecordActivity calls/s"),
            requests: calls.len(),
            errors: sent.errors,
            elapsed: sent.elapsed,
            latencies_us: calls,
            postings_per_call: 0.0,
            vs_pgbench: false,
            versus: None,
        };
        let effects = Stats {
            name: format!("{name}: applied/s, commit -> effect ms"),
            requests: latencies_us.len(),
            errors: missing,
            elapsed: last - started,
            latencies_us,
            postings_per_call: 0.0,
            vs_pgbench: false,
            versus: None,
        };
        // The relay's share of the latency: commit -> seen on the stream.
        let relay = Stats {
            name: format!("{name}: published/s, commit -> on the stream ms"),
            requests: relay_us.len(),
            errors: 0,
            elapsed: last_published - started,
            latencies_us: relay_us,
            postings_per_call: 0.0,
            vs_pgbench: false,
            versus: None,
        };
        vec![calls.against_pgbench(), relay, effects.against_pgbench()]
    }

    /// Effects of the orders tagged `tag` in the consumer's database.
    async fn effects(&self, tag: &str) -> anyhow::Result<usize> {
        let db = &self.consumer_db;
        let backend = db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => self.effects_sql.to_owned(),
            _ => self.effects_sql.replace("$1", "?"),
        };
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [format!("{tag}-%").into()],
            ))
            .await?
            .ok_or_else(|| anyhow::anyhow!("no count"))?;
        Ok(row.try_get::<i64>("", "n")? as usize)
    }

    /// The rate at which the consumer, started on a backlog of `backlog` purchases, applies
    /// them: from the first inbox row seen to the last (its start-up is not counted).
    async fn catch_up(&self, name: &str, tag: &str, backlog: u64) -> anyhow::Result<Stats> {
        let db = &self.consumer_db;
        let backend = db.get_database_backend();
        let count = || async {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM event_inbox WHERE consumer = {}",
                placeholders(backend, 1, 1)
            );
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [self.group.clone().into()],
                ))
                .await?
                .ok_or_else(|| anyhow::anyhow!("no count"))?;
            anyhow::Ok(row.try_get::<i64>("", "n")? as u64)
        };
        let limit = Instant::now() + DRAIN_LIMIT + Duration::from_secs(60);
        let mut first: Option<(Instant, u64)> = None;
        loop {
            // The inbox table appears with the consumer's migration.
            let n = count().await.unwrap_or(0);
            let now = Instant::now();
            if n > 0 && first.is_none() {
                first = Some((now, n));
            }
            if n >= backlog {
                let (t0, n0) = first.unwrap_or((now, n));
                let elapsed = (now - t0).max(Duration::from_millis(1));
                eprintln!("{name}: {backlog} applied, {} in {elapsed:?}", n - n0);
                let effects = self.effects(tag).await?;
                anyhow::ensure!(
                    effects == backlog as usize,
                    "{name}: {backlog} applied, {effects} with their effect"
                );
                return Ok(Stats {
                    name: format!("{name} of {backlog}: applied/s"),
                    requests: (n - n0) as usize,
                    errors: 0,
                    elapsed,
                    latencies_us: Vec::new(),
                    postings_per_call: 0.0,
                    vs_pgbench: false,
                    versus: None,
                }
                .against_pgbench());
            }
            anyhow::ensure!(now < limit, "{name}: only {n} of {backlog} applied");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
