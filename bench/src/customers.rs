//! Customers scenarios: hot reads through the cache, reads from the database, creates; each
//! with personal data in plain text (`pii.encrypt = false`) and encrypted, on two databases
//! of their own (the encrypted servers' re-encryption job would otherwise seal the plain rows).
use crate::{Args, Stats, channels, drive, platform_settings};
use crm_customers::Settings;
use crm_platform::client::{Credentials, TracedChannel, with_metadata};
use crm_proto::customers as pb;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const HOT: &str = "GetCustomer, cached (hot set of 100)";
const HOT_JWT: &str = "GetCustomer, cached, JWT verified + rate-limited";
const COLD: &str = "GetCustomer, database (cache off)";
const CREATE: &str = "CreateCustomer";
/// The same calls with `pii.encrypt = true`, each compared with its plain-text twin of the
/// same round (which runs whenever its twin does: `CRM_BENCH_ONLY=PII` runs the three pairs).
const HOT_PII: &str = "GetCustomer, cached (hot set of 100), PII encrypted";
const COLD_PII: &str = "GetCustomer, database (cache off), PII encrypted";
const CREATE_PII: &str = "CreateCustomer, PII encrypted";
pub const SCENARIOS: [&str; 7] = [HOT, HOT_JWT, COLD, CREATE, HOT_PII, COLD_PII, CREATE_PII];
/// The report label of the twins' ratio.
const VS_PLAIN: &str = "encryption off";

/// The bench's token issuer (HS256: with verified tokens cached by hash, the per-call cost is
/// the same for RS256/ES256; only the first call of a token pays for the signature).
const ISSUER: &str = "crm-bench";
const SECRET: &str = "crm-bench-hs256-secret-of-at-least-32-bytes";

/// Every scenario's clients are the same type (the platform's outgoing channel), so the
/// auth-on and auth-off reads differ by the token alone.
type Client = CustomerServiceClient<TracedChannel>;

pub struct Bench {
    plain: Servers,
    encrypted: Option<Servers>,
    authenticated: Vec<Client>,
    /// Rounds run so far: every second round runs each pair's encrypted twin first.
    rounds: AtomicUsize,
}

/// A cached and an uncached server on one database, and the customers preloaded there.
struct Servers {
    cached: Vec<Client>,
    uncached: Vec<Client>,
    hot: Arc<Vec<String>>,
    all: Arc<Vec<String>>,
}

/// How a customers server is configured.
#[derive(Clone, Copy)]
struct Server {
    cache: bool,
    jwt: bool,
    /// `pii.encrypt`.
    encrypt: bool,
}

async fn spawn(args: &Args, db_url: &str, server: Server) -> anyhow::Result<u16> {
    let mut s = Settings::load(None)?;
    platform_settings(&mut s.platform, db_url, &args.redis_url, server.cache);
    s.platform.pii.encrypt = server.encrypt;
    if server.jwt {
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

/// Connections to a server on `port`, every call carrying `credentials`.
async fn clients(args: &Args, port: u16, credentials: Credentials) -> anyhow::Result<Vec<Client>> {
    Ok(channels(port, args.connections)
        .await?
        .into_iter()
        .map(|c| CustomerServiceClient::new(with_metadata(c, credentials.clone())))
        .collect())
}

impl Servers {
    /// A cached and an uncached server on `db_url` (`pii.encrypt = encrypt`) and
    /// `args.customers` customers created through them.
    async fn start(args: &Args, db_url: &str, encrypt: bool) -> anyhow::Result<Self> {
        let server = |cache| Server {
            cache,
            jwt: false,
            encrypt,
        };
        let none = Credentials::default();
        let cached = clients(args, spawn(args, db_url, server(true)).await?, none.clone()).await?;
        let uncached = clients(args, spawn(args, db_url, server(false)).await?, none).await?;
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
            uncached,
            hot: Arc::new(names.iter().take(100).cloned().collect()),
            all: Arc::new(names),
        })
    }
}

/// Awaits `a` and `b` in turn, `b` first when `flip` (so neither twin always runs on the
/// table the other just grew or the caches it just warmed); `a`'s stats come first.
async fn in_turn(
    flip: bool,
    a: impl Future<Output = Stats>,
    b: impl Future<Output = Stats>,
) -> [Stats; 2] {
    if flip {
        let b = b.await;
        [a.await, b]
    } else {
        let a = a.await;
        [a, b.await]
    }
}

impl Bench {
    /// Plain-text servers (and the authenticated one) on `plain_db`, encrypted ones on
    /// `encrypted_db` when a run wants them; each set preloads customers of its own.
    pub async fn prepare(args: &Args, plain_db: &str, encrypted_db: &str) -> anyhow::Result<Self> {
        let plain = Servers::start(args, plain_db, false).await?;
        let encrypted = match [HOT_PII, COLD_PII, CREATE_PII]
            .iter()
            .any(|s| args.wants(s))
        {
            true => Some(Servers::start(args, encrypted_db, true).await?),
            false => None,
        };
        let jwt = Server {
            cache: true,
            jwt: true,
            encrypt: false,
        };
        let authenticated =
            clients(args, spawn(args, plain_db, jwt).await?, bench_token()?).await?;
        Ok(Self {
            plain,
            encrypted,
            authenticated,
            rounds: AtomicUsize::new(0),
        })
    }

    /// Scenario `off` on the plain-text servers and, when wanted, its twin `on` on the
    /// encrypted ones, compared with `off`; `run` measures one on a set of servers.
    async fn twins<'a, F, Fut>(
        &'a self,
        args: &Args,
        flip: bool,
        (off, on): (&'static str, &'static str),
        run: F,
    ) -> Vec<Stats>
    where
        F: Fn(&'static str, &'a Servers) -> Fut,
        Fut: Future<Output = Stats>,
    {
        match &self.encrypted {
            Some(e) if args.wants(on) => {
                let encrypted = async { run(on, e).await.versus(off, VS_PLAIN) };
                in_turn(flip, run(off, &self.plain), encrypted).await.into()
            }
            _ if args.wants(off) => vec![run(off, &self.plain).await],
            _ => Vec::new(),
        }
    }

    pub async fn round(&self, args: &Args) -> Vec<Stats> {
        let flip = self.rounds.fetch_add(1, Ordering::Relaxed) % 2 == 1;
        let mut stats = Vec::new();
        let pair = (HOT, HOT_PII);
        stats.extend(
            self.twins(args, flip, pair, |name, s| {
                gets(name, args, &s.cached, &s.hot)
            })
            .await,
        );
        if args.wants(HOT_JWT) {
            let s = gets(HOT_JWT, args, &self.authenticated, &self.plain.hot).await;
            stats.push(s.versus(HOT, "auth off"));
        }
        let pair = (COLD, COLD_PII);
        stats.extend(
            self.twins(args, flip, pair, |name, s| {
                gets(name, args, &s.uncached, &s.all)
            })
            .await,
        );
        let pair = (CREATE, CREATE_PII);
        stats.extend(
            self.twins(args, flip, pair, |name, s| {
                drive(name, args, &s.cached, |mut c, n| async move {
                    c.create_customer(new_customer(1_000_000 + n)).await.is_ok()
                })
            })
            .await,
        );
        stats
    }
}
