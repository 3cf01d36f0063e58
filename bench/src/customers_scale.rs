//! Customers at scale: the same first-page list and search calls at 10,000 and 1,000,000
//! customers (`--scale-customers`), to show their cost does not grow with the table. The
//! tables are seeded straight through the store with multi-row inserts (the API would take
//! hours for a million), then read through the real server.
use crate::{Args, Stats, channels, drive, platform_settings};
use crm_customers::Settings;
use crm_customers::domain::{Customer, Email, Profile, Tag};
use crm_proto::customers as pb;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use sea_orm::TransactionTrait;
use std::time::Instant;
use tonic::transport::Channel;

/// Given names and family names the seeded customers are made of (100 x 100 combinations).
const SYLLABLES: [&str; 10] = [
    "an", "bo", "chen", "da", "fei", "guo", "hua", "jun", "li", "ming",
];
const FAMILIES: [&str; 10] = [
    "wang", "zhang", "liu", "yang", "huang", "zhao", "zhou", "wu", "xu", "sun",
];

fn list_name(size: usize) -> String {
    format!("ListCustomers tag=vip (1%), first page @ {size}")
}

fn search_name(size: usize) -> String {
    format!("SearchCustomers name_prefix, first page @ {size}")
}

struct Sized {
    size: usize,
    clients: Vec<CustomerServiceClient<Channel>>,
}

pub struct Bench {
    sizes: Vec<Sized>,
}

fn profile(i: usize) -> Profile {
    let given = format!("{}{}", SYLLABLES[i % 10], SYLLABLES[(i / 10) % 10]);
    let family = FAMILIES[(i / 100) % 10];
    // Suffixes make 10,000 x more families, so a prefix matches a small share at any size.
    let family = format!("{family}{}", (i / 1000) % 1000);
    let mut tags = vec![Tag::parse(&format!("t{}", i % 20)).expect("tag")];
    if i.is_multiple_of(100) {
        tags.push(Tag::parse("vip").expect("tag"));
    }
    Profile {
        display_name: format!("{given} {family}"),
        given_name: given,
        family_name: family,
        primary_email: Email::parse(&format!("scale{i}@example.com")).ok(),
        tags,
        ..Default::default()
    }
}

/// Seeds `size` customers into `db_url` (migrated by a server started first).
async fn seed(db_url: &str, size: usize, keys: &crm_platform::pii::Keys) -> anyhow::Result<()> {
    let db = sea_orm::Database::connect(db_url).await?;
    let started = Instant::now();
    let now = chrono::Utc::now();
    let mut i = 0;
    while i < size {
        let n = (size - i).min(5_000);
        let batch: Vec<Customer> = (i..i + n)
            .map(|k| {
                Customer::new(
                    profile(k),
                    now - chrono::Duration::seconds((size - k) as i64),
                )
            })
            .collect();
        let txn = db.begin().await?;
        crm_customers::store::customers::insert_many(&txn, keys, &batch)
            .await
            .map_err(|e| anyhow::anyhow!("seed: {e:?}"))?;
        txn.commit().await?;
        i += n;
        if i.is_multiple_of(100_000) {
            eprintln!("  seeded {i}/{size} in {:?}", started.elapsed());
        }
    }
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("ANALYZE").await?;
    }
    eprintln!("seeded {size} customers in {:?}", started.elapsed());
    Ok(())
}

impl Bench {
    pub async fn prepare(
        args: &Args,
        fresh_db: impl AsyncFn() -> anyhow::Result<String>,
    ) -> anyhow::Result<Self> {
        let mut sizes = Vec::new();
        for &size in &args.scale_customers {
            if !args.wants(&list_name(size)) && !args.wants(&search_name(size)) {
                continue;
            }
            let db_url = fresh_db().await?;
            let mut s = Settings::load(None)?;
            platform_settings(&mut s.platform, &db_url, &args.redis_url, true);
            let app = crm_customers::application(s).await?;
            let port = app.port();
            // Sealed and indexed with the server's own keys, as its writes would be.
            let keys = app
                .service()
                .pii()
                .keys()
                .await
                .map_err(|e| anyhow::anyhow!("keys: {e:?}"))?;
            tokio::spawn(app.run_until(std::future::pending()));
            seed(&db_url, size, &keys).await?;
            let clients = channels(port, args.connections)
                .await?
                .into_iter()
                .map(CustomerServiceClient::new)
                .collect();
            sizes.push(Sized { size, clients });
        }
        Ok(Self { sizes })
    }

    pub async fn round(&self, args: &Args) -> Vec<Stats> {
        let mut stats = Vec::new();
        for s in &self.sizes {
            let name = list_name(s.size);
            if args.wants(&name) {
                stats.push(
                    drive(&name, args, &s.clients, |mut c, _| async move {
                        c.list_customers(pb::ListCustomersRequest {
                            tag: "vip".into(),
                            ..Default::default()
                        })
                        .await
                        .is_ok()
                    })
                    .await,
                );
            }
            let name = search_name(s.size);
            if args.wants(&name) {
                stats.push(
                    drive(&name, args, &s.clients, |mut c, n| async move {
                        // "zhang0", "wang1", ...: the families of 1,000 seeded customers each.
                        let family = FAMILIES[(n as usize) % 10];
                        let prefix = format!("{family}{}", (n as usize / 10) % 10);
                        c.search_customers(pb::SearchCustomersRequest {
                            query: Some(pb::search_customers_request::Query::NamePrefix(prefix)),
                            ..Default::default()
                        })
                        .await
                        .is_ok()
                    })
                    .await,
                );
            }
        }
        stats
    }
}
