//! Recommendations: the cost of a model rebuild (`crm-recommendations rebuild`, the job,
//! RebuildModel) as interactions grow: synthetic interactions (`CRM_BENCH_REBUILD_INTERACTIONS`,
//! 10,000, 100,000 and 1,000,000 by default) seeded into a fresh database of the run's backend,
//! then one build per round, each in a child process of its own (this binary again), so its
//! peak resident memory (VmHWM) is the build's alone. Reports the time of each phase (read,
//! compute, write), the rows written and the peak memory; the medians of the rounds.
//!
//! The data: 20 interactions per customer (customers = interactions / 20) over as many items,
//! items drawn from a power law (a few popular, a long tail), 60% views, 20% cart adds, 20%
//! purchases in baskets of about two, over the last year; every item in the catalogue (20
//! categories x 7 subcategories, 2 of 50 tags), plus 5% catalogue items with no interactions
//! (the content fallback); half the customers have a profile (30 cities, 5 languages).
use crate::Args;
use chrono::{Duration as Days, Utc};
use crm_platform::config::Secret;
use crm_recommendations::service::rebuild::{Published, build_measured};
use crm_recommendations::store::entities::{interaction, item, profile};
use sea_orm::ActiveValue::Set;
use sea_orm::{DatabaseConnection, EntityTrait, TransactionTrait};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The name `CRM_BENCH_ONLY` matches.
pub const SCENARIO: &str = "recommendations rebuild";

/// The environment variable that makes this binary the child that builds once.
const CHILD: &str = "CRM_BENCH_REBUILD_CHILD";

/// MovieLens-100K as `scripts/fetch-movielens.sh` leaves it (`CRM_BENCH_REBUILD_MOVIELENS`
/// elsewhere): its row of the table is built from it when the file is there.
fn movielens() -> std::path::PathBuf {
    std::env::var("CRM_BENCH_REBUILD_MOVIELENS")
        .unwrap_or_else(|_| ".tools/data/ml-100k.inter".into())
        .into()
}

/// What one row of the table is built from.
enum Data {
    Synthetic(usize),
    MovieLens(std::path::PathBuf),
}

fn data_sets() -> Vec<Data> {
    let mut sets: Vec<Data> = sizes().into_iter().map(Data::Synthetic).collect();
    let ml = movielens();
    if ml.is_file() {
        sets.push(Data::MovieLens(ml));
    } else {
        eprintln!(
            "{SCENARIO}: SKIPPED the MovieLens-100K row: no {} (run scripts/fetch-movielens.sh)",
            ml.display()
        );
    }
    sets
}

fn sizes() -> Vec<usize> {
    std::env::var("CRM_BENCH_REBUILD_INTERACTIONS")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect()
}

/// splitmix64: the same data every run, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
}

/// The service's settings on `url` (the shipped model defaults: EASE up to its item bound).
fn settings(url: &str) -> anyhow::Result<crm_recommendations::Settings> {
    let mut s = crm_recommendations::Settings::load(None)?;
    s.platform.database.url = Secret::new(url);
    Ok(s)
}

async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let s = settings(url)?;
    crm_platform::db::connect(&s.platform.database, crm_recommendations::SERVICE).await
}

/// Seeds `n` interactions (and the catalogue and profiles) into the migrated `db`.
pub async fn seed(db: &DatabaseConnection, n: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut rng = Rng(42);
    let customers: Vec<Uuid> = (0..(n / 20).max(1)).map(|_| Uuid::now_v7()).collect();
    let items = (n / 20).max(100);
    let now = Utc::now();
    let mut rows = Vec::with_capacity(1000);
    let mut purchases = vec![0u32; customers.len()];
    let txn = db.begin().await?;
    for k in 0..n {
        // Customers take turns, so the newest interactions are everyone's.
        let c = k % customers.len();
        let item = (items as f64 * rng.unit().powf(2.5)) as usize;
        let r = rng.unit();
        let (kind, weight, basket) = if r < 0.6 {
            (1, 1.0, String::new())
        } else if r < 0.8 {
            (2, 2.0, String::new())
        } else {
            purchases[c] += 1;
            (3, 4.0, format!("o{c}-{}", purchases[c] / 2))
        };
        let id = Uuid::now_v7();
        rows.push(interaction::ActiveModel {
            id: Set(id),
            source_key: Set(format!("api:{id}")),
            customer_id: Set(customers[c]),
            item_id: Set(format!("sku-{item}")),
            kind: Set(kind),
            weight: Set(weight),
            rating: Set(0),
            quantity: Set(1),
            basket_id: Set(basket),
            occur_time: Set(now - Days::seconds((rng.unit() * 365.0 * 86_400.0) as i64)),
            record_time: Set(now),
        });
        if rows.len() == 1000 {
            interaction::Entity::insert_many(std::mem::take(&mut rows))
                .exec_without_returning(&txn)
                .await?;
        }
    }
    interaction::Entity::insert_many(rows)
        .exec_without_returning(&txn)
        .await?;
    let mut rows = Vec::with_capacity(1000);
    for i in 0..items + items / 20 {
        let tags = [rng.below(50), rng.below(50)].map(|t| format!("t{t}"));
        rows.push(item_row(
            format!("sku-{i}"),
            format!("Item {i}"),
            format!("c{}/s{}", i % 20, i % 7),
            serde_json::to_string(&tags)?,
            now,
        ));
        if rows.len() == 1000 {
            item::Entity::insert_many(std::mem::take(&mut rows))
                .exec_without_returning(&txn)
                .await?;
        }
    }
    item::Entity::insert_many(rows)
        .exec_without_returning(&txn)
        .await?;
    let mut rows = Vec::with_capacity(1000);
    for (c, id) in customers.iter().enumerate().filter(|(c, _)| c % 2 == 0) {
        rows.push(profile::ActiveModel {
            customer_id: Set(*id),
            language_code: Set(["en", "ja", "fr", "de", "zh"][c % 5].into()),
            city: Set(format!("city{}", c % 30)),
            tier: Set(String::new()),
            tags: Set("[]".into()),
            stale: Set(false),
            update_time: Set(now),
        });
        if rows.len() == 1000 {
            profile::Entity::insert_many(std::mem::take(&mut rows))
                .exec_without_returning(&txn)
                .await?;
        }
    }
    profile::Entity::insert_many(rows)
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("VACUUM ANALYZE").await?;
    }
    eprintln!(
        "{SCENARIO}: seeded {n} interactions, {} customers, {items} items in {:?}",
        customers.len(),
        started.elapsed()
    );
    Ok(())
}

/// Seeds MovieLens-100K's ratings as interactions into the migrated `db`, read as the
/// evaluation reads them: each rating one interaction of weight 1 (a view), at its time
/// shifted so that the newest is now (the build's time decay sees the data set's own spread),
/// and every rated item in the catalogue.
async fn seed_movielens(db: &DatabaseConnection, path: &std::path::Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let data = crm_recommendations::eval::data::Dataset::load(path)?;
    let newest = data.rows.iter().map(|r| r.time).max().unwrap_or(0);
    let now = Utc::now();
    let users: Vec<Uuid> = (0..data.users.len())
        .map(|u| Uuid::from_u128(u as u128 + 1))
        .collect();
    let interactions = data.rows.iter().map(|r| {
        let id = Uuid::now_v7();
        interaction::ActiveModel {
            id: Set(id),
            source_key: Set(format!("api:{id}")),
            customer_id: Set(users[r.user as usize]),
            item_id: Set(format!("ml-{}", data.items[r.item as usize])),
            kind: Set(1),
            weight: Set(1.0),
            rating: Set(0),
            quantity: Set(1),
            basket_id: Set(String::new()),
            occur_time: Set(now - Days::seconds(newest - r.time)),
            record_time: Set(now),
        }
    });
    let items = data.items.iter().map(|name| {
        let (id, title) = (format!("ml-{name}"), format!("Movie {name}"));
        item_row(id, title, "movies".into(), "[]".into(), now)
    });
    let txn = db.begin().await?;
    insert_chunked(&txn, interactions).await?;
    insert_chunked(&txn, items).await?;
    txn.commit().await?;
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("VACUUM ANALYZE").await?;
    }
    eprintln!(
        "{SCENARIO}: seeded MovieLens-100K ({} ratings, {} users, {} items) in {:?}",
        data.rows.len(),
        data.users.len(),
        data.items.len(),
        started.elapsed()
    );
    Ok(())
}

/// Inserts `rows` 1,000 a statement.
async fn insert_chunked<A>(
    txn: &sea_orm::DatabaseTransaction,
    rows: impl Iterator<Item = A>,
) -> anyhow::Result<()>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(1000).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// A `/proc/self/status` value in KiB (0 when unreadable).
fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(str::to_owned))
        })
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What one build measured (the child's line on stdout).
#[derive(Debug, Clone, Copy, Default)]
struct Measured {
    read_ms: u64,
    compute_ms: u64,
    write_ms: u64,
    total_ms: u64,
    item_rows: u64,
    lists: u64,
    interactions: u64,
    customers: u64,
    items: u64,
    /// Resident memory before the build and at most during it, KiB.
    base_kib: u64,
    peak_kib: u64,
}

const FIELDS: [&str; 11] = [
    "read_ms",
    "compute_ms",
    "write_ms",
    "total_ms",
    "item_rows",
    "lists",
    "interactions",
    "customers",
    "items",
    "base_kib",
    "peak_kib",
];

impl Measured {
    fn values(&self) -> [u64; 11] {
        [
            self.read_ms,
            self.compute_ms,
            self.write_ms,
            self.total_ms,
            self.item_rows,
            self.lists,
            self.interactions,
            self.customers,
            self.items,
            self.base_kib,
            self.peak_kib,
        ]
    }

    fn line(&self) -> String {
        FIELDS
            .iter()
            .zip(self.values())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn parse(line: &str) -> Option<Self> {
        let mut v = [0u64; 11];
        for part in line.split_whitespace() {
            let (k, n) = part.split_once('=')?;
            let i = FIELDS.iter().position(|f| *f == k)?;
            v[i] = n.parse().ok()?;
        }
        let [
            read_ms,
            compute_ms,
            write_ms,
            total_ms,
            item_rows,
            lists,
            interactions,
            customers,
            items,
            base_kib,
            peak_kib,
        ] = v;
        Some(Self {
            read_ms,
            compute_ms,
            write_ms,
            total_ms,
            item_rows,
            lists,
            interactions,
            customers,
            items,
            base_kib,
            peak_kib,
        })
    }
}

/// The child: one build on the database `url`, measured, printed as one line.
pub async fn child(url: &str) -> anyhow::Result<()> {
    let s = settings(url)?;
    let db = connect(url).await?;
    // Connected (and the runtime up) before the baseline is taken.
    sea_orm::ConnectionTrait::execute_unprepared(&db, "SELECT 1").await?;
    let base_kib = status_kib("VmRSS");
    let started = Instant::now();
    let (published, phases) = build_measured(&db, &s.recommendations)
        .await
        .map_err(|e| anyhow::anyhow!("build: {e}"))?;
    let total = started.elapsed();
    let Published::Version(info) = published else {
        anyhow::bail!("the build lost its version to another");
    };
    let ms = |d: Duration| d.as_millis() as u64;
    let m = Measured {
        read_ms: ms(phases.read),
        compute_ms: ms(phases.compute),
        write_ms: ms(phases.write),
        total_ms: ms(total),
        item_rows: phases.item_rows as u64,
        lists: phases.lists as u64,
        interactions: info.interaction_count as u64,
        customers: info.customer_count as u64,
        items: info.item_count as u64,
        base_kib,
        peak_kib: status_kib("VmHWM"),
    };
    println!("{}", m.line());
    Ok(())
}

/// One build in a child process.
async fn measure(url: &str) -> anyhow::Result<Measured> {
    let out = tokio::process::Command::new(std::env::current_exe()?)
        .env(CHILD, url)
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "rebuild child failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .rev()
        .find_map(Measured::parse)
        .ok_or_else(|| anyhow::anyhow!("no measurement from the rebuild child: {stdout}"))
}

/// The child's database when this process is one.
pub fn child_url() -> Option<String> {
    std::env::var(CHILD).ok()
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Seeds each size into a fresh database and builds `args.rounds` times; the report's
/// section, or None when the run does not want it.
pub async fn run(
    args: &Args,
    fresh_db: impl AsyncFn() -> anyhow::Result<String>,
) -> anyhow::Result<Option<String>> {
    if !args.wants(SCENARIO) {
        return Ok(None);
    }
    let sets = data_sets();
    if sets.is_empty() {
        return Ok(None);
    }
    let mut s = String::from(
        "### Recommendations: rebuild cost (one build per round, in a process of its own; medians)\n\n\
         | data | interactions | customers | items | read ms | compute ms | write ms | total ms | item rows + lists written | peak RSS MiB (growth over the idle process) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for set in sets {
        let url = fresh_db().await?;
        let db = connect(&url).await?;
        crm_platform::db::migrate::<crm_recommendations::migration::Migrator>(&db).await?;
        let name = match &set {
            Data::Synthetic(n) => {
                seed(&db, *n).await?;
                format!("synthetic {n}")
            }
            Data::MovieLens(path) => {
                seed_movielens(&db, path).await?;
                "MovieLens-100K".to_owned()
            }
        };
        db.close().await.ok();
        let mut runs = Vec::new();
        for round in 0..args.rounds.max(1) {
            let m = measure(&url).await?;
            eprintln!("{SCENARIO} @ {name}, round {}: {}", round + 1, m.line());
            runs.push(m);
        }
        let med = |f: fn(&Measured) -> u64| median(runs.iter().map(f).collect());
        let peak = runs.iter().map(|m| m.peak_kib).max().unwrap_or(0);
        let growth = runs
            .iter()
            .map(|m| m.peak_kib.saturating_sub(m.base_kib))
            .max()
            .unwrap_or(0);
        s.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} + {} | {:.0} ({:.0}) |\n",
            med(|m| m.interactions),
            med(|m| m.customers),
            med(|m| m.items),
            med(|m| m.read_ms),
            med(|m| m.compute_ms),
            med(|m| m.write_ms),
            med(|m| m.total_ms),
            med(|m| m.item_rows),
            med(|m| m.lists),
            peak as f64 / 1024.0,
            growth as f64 / 1024.0,
        ));
    }
    Ok(Some(s))
}

/// An in-stock catalogue row with no attributes.
fn item_row(
    id: String,
    title: String,
    category: String,
    tags_json: String,
    now: chrono::DateTime<chrono::Utc>,
) -> item::ActiveModel {
    item::ActiveModel {
        id: Set(id),
        title: Set(title),
        category: Set(category),
        tags: Set(tags_json),
        attributes: Set("{}".into()),
        numeric_attributes: Set("{}".into()),
        availability: Set(1),
        bookable_from: Set(None),
        bookable_until: Set(None),
        revision: Set(1),
        create_time: Set(now),
        update_time: Set(now),
    }
}
