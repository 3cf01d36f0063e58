//! Test support shared by every service's integration tests.
//!
//! Backends: SQLite with the in-process cache always; PostgreSQL with Redis when
//! `CRM_TEST_POSTGRES_URL` (an admin URL) and `CRM_TEST_REDIS_URL` are set, as
//! `scripts/test-servers.sh` does. Absence is announced loudly; with `CI=true` it fails.
use crate::config::{PlatformSettings, Secret};
use sea_orm::{ConnectionTrait, Database};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file + in-process cache.
    Sqlite,
    /// PostgreSQL + Redis.
    Postgres,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn required_env(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                !in_ci(),
                "{var} is not set but CI=true: {what} tests must run in CI (use scripts/test-servers.sh)"
            );
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "\n=== SKIPPED: {var} not set; {what} test runs are skipped (run `make test`, which starts throwaway servers) ===\n"
                );
            }
            None
        }
    }
}

/// The backends to run each integration test on.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    let pg = required_env("CRM_TEST_POSTGRES_URL", "PostgreSQL");
    let redis = required_env("CRM_TEST_REDIS_URL", "Redis");
    if pg.is_some() && redis.is_some() {
        out.push(Backend::Postgres);
    }
    out
}

/// The test Redis URL, if any (same skip/fail rules).
pub fn redis_url() -> Option<String> {
    required_env("CRM_TEST_REDIS_URL", "Redis")
}

/// A fresh, empty database URL for one test.
pub async fn fresh_database_url(backend: Backend) -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("crm-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}/{unique}.sqlite?mode=rwc", dir.display())
        }
        Backend::Postgres => {
            let admin = std::env::var("CRM_TEST_POSTGRES_URL").expect("CRM_TEST_POSTGRES_URL");
            let conn = Database::connect(admin.as_str())
                .await
                .expect("connect to the test PostgreSQL");
            let name = format!("crm_test_{unique}");
            conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            conn.close().await.ok();
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b)
                .expect("admin url has a database");
            format!("{base}/{name}")
        }
    }
}

/// A random key prefix so parallel tests never share cache keys.
pub fn random_prefix() -> String {
    format!(
        "crmtest{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Runs `test` once per available backend.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in backends() {
        eprintln!("-- backend {backend:?}");
        test(backend).await;
    }
}

/// Where a test server keeps its state: a database and a cache key prefix. Two apps given
/// the same `Storage` act as replicas of one service.
#[derive(Debug, Clone)]
pub struct Storage {
    pub backend: Backend,
    pub database_url: String,
    pub cache_prefix: String,
    /// Redis to use on PostgreSQL (e.g. a cuttable proxy); `None`: the test Redis.
    pub redis_url: Option<String>,
}

impl Storage {
    /// A fresh database and cache prefix on `backend`.
    pub async fn fresh(backend: Backend) -> Self {
        Self {
            backend,
            database_url: fresh_database_url(backend).await,
            cache_prefix: random_prefix(),
            redis_url: None,
        }
    }

    /// Points `platform` at this storage, on 127.0.0.1 port 0, with a test page-token secret.
    pub fn apply(&self, platform: &mut PlatformSettings) {
        platform.server.host = "127.0.0.1".into();
        platform.server.port = 0;
        platform.database.url = Secret::new(self.database_url.clone());
        platform.database.max_connections = 10;
        platform.cache.key_prefix = self.cache_prefix.clone();
        platform.cache.redis_url = match self.backend {
            Backend::Sqlite => Secret::default(),
            Backend::Postgres => Secret::new(
                self.redis_url
                    .clone()
                    .or_else(redis_url)
                    .unwrap_or_default(),
            ),
        };
        platform.events.key_prefix = self.cache_prefix.clone();
        platform.events.redis_url = platform.cache.redis_url.clone();
        platform.security.page_token_secret =
            Secret::new("test-page-token-secret-0123456789abcdef");
        auth::enable(platform);
        platform.pii = test_pii();
    }
}

/// A random inline key-encryption key `id`.
pub fn random_kek(id: &str) -> crate::pii::KekSettings {
    use base64::Engine as _;
    crate::pii::KekSettings {
        id: id.into(),
        secret: Secret::new(
            base64::engine::general_purpose::STANDARD
                .encode(uuid::Uuid::new_v4().as_bytes().repeat(2)),
        ),
        secret_file: String::new(),
    }
}

/// Encryption on under a random key-encryption key of this process (the database is fresh).
pub fn test_pii() -> crate::pii::PiiSettings {
    static KEY: std::sync::OnceLock<crate::pii::KekSettings> = std::sync::OnceLock::new();
    let kek = KEY.get_or_init(|| random_kek("test"));
    crate::pii::PiiSettings {
        encrypt: true,
        active_key: String::new(),
        dev_key_file: String::new(),
        reencrypt_batch: 50,
        reencrypt_interval_secs: 3600,
        retire_after_secs: 0,
        keys: vec![kek.clone()],
    }
}

/// A fresh request id.
pub fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Asserts a status's code and `ErrorInfo` reason.
#[track_caller]
pub fn assert_status(status: &tonic::Status, code: tonic::Code, reason: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(
        crate::grpc::reason_of(status).as_deref(),
        Some(reason),
        "{status:?}"
    );
}

/// The fields named by a status's `BadRequest`, sorted.
pub fn violations(status: &tonic::Status) -> Vec<String> {
    let mut v = crate::grpc::violated_fields(status);
    v.sort();
    v
}

/// Polls grpc.health.v1 on `addr` for `service` until SERVING (true) or ~5 s pass (false).
pub async fn wait_serving(addr: &str, service: &str) -> bool {
    for _ in 0..50 {
        if crate::cli::healthcheck(addr, service, std::time::Duration::from_secs(1))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

/// A TCP proxy in front of a real server (e.g. Redis, PostgreSQL) that a test can cut to
/// simulate an outage, and restore.
pub struct TcpProxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    silent: Arc<AtomicBool>,
    cut: Arc<tokio::sync::Notify>,
    /// Lets go of the connections held while silent.
    release: Arc<tokio::sync::Notify>,
}

impl TcpProxy {
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let silent = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(tokio::sync::Notify::new());
        let release = Arc::new(tokio::sync::Notify::new());
        let (up2, silent2, cut2, release2) =
            (up.clone(), silent.clone(), cut.clone(), release.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if silent2.load(Ordering::Acquire) {
                    // A partition: the connection opens, nothing ever answers.
                    let release = release2.clone();
                    tokio::spawn(async move {
                        let _held = client;
                        release.notified().await;
                    });
                    continue;
                }
                if !up2.load(Ordering::Acquire) {
                    continue; // dropped: connection refused-ish
                }
                let target = target.clone();
                let cut = cut2.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = cut.notified() => {}
                    }
                });
            }
        });
        Self {
            port,
            up,
            silent,
            cut,
            release,
        }
    }

    /// Closes every proxied connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::Release);
        self.cut.notify_waiters();
    }

    /// Closes every proxied connection; new ones open but are never answered (a network
    /// partition or a hung server: clients wait for their own timeouts).
    pub fn black_hole(&self) {
        self.silent.store(true, Ordering::Release);
        self.cut.notify_waiters();
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.silent.store(false, Ordering::Release);
        self.up.store(true, Ordering::Release);
        self.release.notify_waiters();
    }
}

/// A codec for raw protobuf bytes: tests send malformed or hand-made messages with it.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut as _;
        buf.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf as _;
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// One unary call of `path` (e.g. `/crm.customers.v1.CustomerService/GetCustomer`) with a
/// raw body over `channel`, with `headers` as metadata.
pub async fn raw_call(
    channel: tonic::transport::Channel,
    path: &'static str,
    body: Vec<u8>,
    headers: &[(&'static str, &str)],
) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut req = tonic::Request::new(body);
    for (k, v) in headers {
        if let Ok(v) = v.parse() {
            req.metadata_mut().insert(*k, v);
        }
    }
    grpc.unary(req, http::uri::PathAndQuery::from_static(path), RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// A channel to `127.0.0.1:{port}` (one HTTP/2 connection, opened now).
pub async fn channel(port: u16) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("url")
        .connect()
        .await
        .expect("connect")
}

/// `url` with its `host:port` replaced by `127.0.0.1:{port}` (to go through a [`TcpProxy`]).
pub fn via_port(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").expect("url has a scheme");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let creds = authority
        .rsplit_once('@')
        .map(|(c, _)| format!("{c}@"))
        .unwrap_or_default();
    format!("{scheme}://{creds}127.0.0.1:{port}/{path}")
}

/// The `host:port` of `url` (the target of a [`TcpProxy`]).
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, hp)| hp)
        .to_owned()
}

pub mod auth;
pub mod events;
pub mod plans;
mod spawn;
pub use spawn::{Spawned, settings, spawn};

/// Migrates a fresh database of `backend` up, then takes the last migration down and up
/// again: its `down` runs, and leaves a schema its `up` applies to once more.
pub async fn last_migration_goes_down_and_up<M: sea_orm_migration::MigratorTrait>(
    backend: Backend,
) {
    let url = fresh_database_url(backend).await;
    let db = Database::connect(url.as_str()).await.expect("db");
    M::up(&db, None).await.expect("up");
    M::down(&db, Some(1)).await.expect("down");
    M::up(&db, None).await.expect("up again");
}
