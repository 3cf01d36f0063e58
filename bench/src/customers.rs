//! Customers scenarios: hot reads through the cache, reads from the database, creates.
use crate::{Args, Stats, channels, drive, platform_settings};
use crm_customers::Settings;
use crm_platform::client::{Credentials, TracedChannel, with_metadata};
use crm_proto::customers as pb;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use std::sync::Arc;

const HOT: &str = "GetCustomer, cached (hot set of 100)";
const HOT_JWT: &str = "GetCustomer, cached, JWT verified + rate-limited";
const COLD: &str = "GetCustomer, database (cache off)";
const CREATE: &str = "CreateCustomer";
pub const SCENARIOS: [&str; 4] = [HOT, HOT_JWT, COLD, CREATE];

/// The bench's token issuer (HS256: with verified tokens cached by hash, the per-call cost is
/// the same for RS256/ES256; only the first call of a token pays for the signature).
const ISSUER: &str = "crm-bench";
const SECRET: &str = "crm-bench-hs256-secret-of-at-least-32-bytes";

/// Every scenario's clients are the same type (the platform's outgoing channel), so the
/// auth-on and auth-off reads differ by the token alone.
type Client = CustomerServiceClient<TracedChannel>;

pub struct Bench {
    cached: Vec<Client>,
    authenticated: Vec<Client>,
    uncached: Vec<Client>,
    hot: Arc<Vec<String>>,
    all: Arc<Vec<String>>,
}

async fn spawn(args: &Args, db_url: &str, cache: bool, jwt: bool) -> anyhow::Result<u16> {
    let mut s = Settings::load(None)?;
    platform_settings(&mut s.platform, db_url, &args.redis_url, cache);
    if jwt {
        require_tokens(&mut s.platform.auth);
    }
    let app = crm_customers::application(s).await?;
    let port = app.port();
    tokio::spawn(app.run_until(std::future::pending()));
    Ok(port)
}

/// Authentication on with the bench's issuer; rate limits high enough never to refuse, so
/// their bookkeeping is measured too.
fn require_tokens(a: &mut crm_platform::auth::AuthSettings) {
    a.mode = crm_platform::auth::AuthMode::Jwt;
    a.issuers = vec![crm_platform::auth::IssuerSettings::hs256(
        ISSUER, "crm", SECRET,
    )];
    a.rate_limits.read_per_sec = 10_000_000;
}

/// One caller's token (every connection of the scenario is the same caller).
fn bench_token() -> anyhow::Result<Credentials> {
    let claims = crm_platform::auth::mint::claims(
        ISSUER,
        "crm",
        "crm-bench",
        // With personal values in clear, as with auth off (masking is not what is measured).
        &["customers.read", "customers.pii.read"],
        std::time::Duration::from_secs(3600),
    );
    Credentials::token(&crm_platform::auth::mint::hs256(SECRET, &claims)?)
}

/// GetCustomer over `names` (spread, so each call asks another one) on `clients`.
async fn gets(scenario: &str, args: &Args, clients: &[Client], names: &Arc<Vec<String>>) -> Stats {
    let names = names.clone();
    drive(scenario, args, clients, move |mut c, n| {
        let name = names[(n as usize * 7919) % names.len()].clone();
        async move {
            c.get_customer(pb::GetCustomerRequest { name })
                .await
                .is_ok()
        }
    })
    .await
}

pub fn new_customer(i: u64) -> pb::CreateCustomerRequest {
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

impl Bench {
    /// Starts a cached and an uncached server on one database and preloads customers.
    pub async fn prepare(args: &Args, db_url: &str) -> anyhow::Result<Self> {
        let clients = |port: u16, credentials: Credentials| async move {
            anyhow::Ok(
                channels(port, args.connections)
                    .await?
                    .into_iter()
                    .map(|c| CustomerServiceClient::new(with_metadata(c, credentials.clone())))
                    .collect::<Vec<Client>>(),
            )
        };
        let none = Credentials::default();
        let cached = clients(spawn(args, db_url, true, false).await?, none.clone()).await?;
        let authenticated = clients(spawn(args, db_url, true, true).await?, bench_token()?).await?;
        let uncached = clients(spawn(args, db_url, false, false).await?, none).await?;
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
        Ok(Self {
            cached,
            authenticated,
            uncached,
            hot: Arc::new(names.iter().take(100).cloned().collect()),
            all: Arc::new(names),
        })
    }

    pub async fn round(&self, args: &Args) -> Vec<Stats> {
        let mut stats = Vec::new();
        if args.wants(HOT) {
            stats.push(gets(HOT, args, &self.cached, &self.hot).await);
        }
        if args.wants(HOT_JWT) {
            let s = gets(HOT_JWT, args, &self.authenticated, &self.hot).await;
            stats.push(s.versus(HOT, "auth off"));
        }
        if args.wants(COLD) {
            stats.push(gets(COLD, args, &self.uncached, &self.all).await);
        }
        if args.wants(CREATE) {
            stats.push(
                drive(CREATE, args, &self.cached, |mut c, n| async move {
                    c.create_customer(new_customer(1_000_000 + n)).await.is_ok()
                })
                .await,
            );
        }
        stats
    }
}
