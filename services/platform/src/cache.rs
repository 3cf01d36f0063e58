//! Cache-aside with two tiers: an in-process tier (moka, decoded values, microseconds) in
//! front of an optional shared Redis tier. Every entry has a TTL. Correctness never depends on
//! the cache:
//! - A write invalidates both tiers. In Redis the key becomes a short-lived tombstone, and
//!   fills use `SET NX`, so a reader that loaded the old row before the write cannot put it
//!   back. In-process, a per-key-stripe epoch does the same for local fills.
//! - Other replicas drop their in-process copy when the invalidation arrives over Redis
//!   pub/sub; the short local TTL bounds staleness if a message is lost.
//! - Redis down: the error is logged once and counted, Redis is skipped for a while (circuit
//!   breaker), and reads go to the database.
//! - An invalidation that could not reach Redis (the writer's Redis is away, other replicas'
//!   is not): right after its commit the writer bumps the service's cache generation in its
//!   database (`cache_generation`), which is part of every Redis key. Each replica re-reads it
//!   every `local_ttl_ms / 2` (one small query per period, none per request); on a change it
//!   clears its in-process tier and stops reading the old generation's keys. Bound: no replica
//!   serves a value older than `local_ttl_ms` after a committed write (local copies live at
//!   most that long; old Redis values are dropped within half of it).
//! - A replica that has just seen a new generation does not use Redis for `local_ttl_ms`:
//!   writers still on the old one (they learn it within `local_ttl_ms / 2`, or read it afresh
//!   when their copy is older) tombstone old-generation keys, so a new-generation key must not
//!   be filled with a value loaded before their commit. Redis is also bypassed while the
//!   copy is older than `local_ttl_ms`.
//! - Without a generation (no database given), Redis reads are distrusted by the writer until
//!   every entry written before has expired, and other replicas rely on their local TTL only.
use crate::cache_generation;
use crate::config::CacheSettings;
use redis::aio::ConnectionManager;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// A value that can be cached. `KIND` is part of its keys, e.g. "customer".
pub trait Cacheable: Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: &'static str;
}

const STRIPES: usize = 256;
const TOMBSTONE: &[u8] = b"\0";
/// How long Redis is skipped after an error.
const BREAKER_OPEN: Duration = Duration::from_secs(1);

/// In-process entries live between half of and the whole local TTL, drawn per entry: entries
/// filled together (a hot set warmed by the first calls) do not all expire at one instant,
/// which would send every caller to the database at once.
struct JitteredTtl {
    ttl: Duration,
    hasher: std::collections::hash_map::RandomState,
}

impl JitteredTtl {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            hasher: Default::default(),
        }
    }
}

impl moka::Expiry<String, Arc<dyn Any + Send + Sync>> for JitteredTtl {
    fn expire_after_create(
        &self,
        key: &String,
        _: &Arc<dyn Any + Send + Sync>,
        created_at: std::time::Instant,
    ) -> Option<Duration> {
        let draw = self.hasher.hash_one((key, created_at)) as f64 / u64::MAX as f64;
        Some(self.ttl.mul_f64(0.5 + draw / 2.0))
    }
}

/// Counters, for logs, tests and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub local_hits: u64,
    pub remote_hits: u64,
    pub misses: u64,
    pub remote_errors: u64,
}

#[derive(Default)]
struct Counters {
    local_hits: AtomicU64,
    remote_hits: AtomicU64,
    misses: AtomicU64,
    remote_errors: AtomicU64,
}

/// Proof that a load started at a given epoch; fills with a stale ticket are dropped.
#[derive(Debug, Clone, Copy)]
pub struct FillTicket {
    stripe: usize,
    epoch: u64,
    /// The generation of the Redis key the fill goes to.
    generation: u64,
}

#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    enabled: bool,
    prefix: String,
    ttl: Duration,
    local: moka::future::Cache<String, Arc<dyn Any + Send + Sync>>,
    epochs: Vec<AtomicU64>,
    hasher: std::collections::hash_map::RandomState,
    remote: Option<Remote>,
    generation: Option<Generation>,
    counters: Counters,
    /// Seals what goes to Redis (values with personal data; the local tier is this
    /// process's memory and keeps them open).
    sealer: std::sync::OnceLock<crate::pii::Pii>,
}

/// This replica's copy of the cache generation (see the module docs).
struct Generation {
    db: DatabaseConnection,
    current: AtomicU64,
    /// Milliseconds since `Remote::started` of the last successful read; 0: never.
    read_at_ms: AtomicU64,
    /// Milliseconds since `Remote::started` when `current` last changed.
    adopted_at_ms: AtomicU64,
    /// Redis is not read while the copy is older than this (`local_ttl_ms`).
    max_age: Duration,
}

struct Remote {
    conn: RwLock<Option<ConnectionManager>>,
    channel: String,
    instance: String,
    timeout: Duration,
    started: Instant,
    /// Milliseconds since `started` until which Redis is skipped (breaker open).
    down_until_ms: AtomicU64,
    /// Milliseconds since `started` until which Redis reads are not trusted.
    untrusted_until_ms: AtomicU64,
    down_logged: AtomicBool,
}

impl Cache {
    /// A cache for `service`. With a Redis URL, connects in the background (the service
    /// starts even when Redis is down) and listens for other replicas' invalidations.
    /// Without a database there is no cache generation: prefer [`Cache::with_generation`]
    /// when replicas share Redis.
    pub fn new(settings: &CacheSettings, service: &str) -> anyhow::Result<Self> {
        Self::build(settings, service, None)
    }

    /// A cache whose Redis keys carry the generation kept in `db` (the service's database,
    /// migrated with `cache_generation::CreateCacheGeneration`).
    pub fn with_generation(
        settings: &CacheSettings,
        service: &str,
        db: DatabaseConnection,
    ) -> anyhow::Result<Self> {
        Self::build(settings, service, Some(db))
    }

    fn build(
        settings: &CacheSettings,
        service: &str,
        db: Option<DatabaseConnection>,
    ) -> anyhow::Result<Self> {
        let prefix = format!("{}:{}", settings.key_prefix, service);
        let local_ttl = Duration::from_millis(settings.local_ttl_ms)
            .min(Duration::from_secs(settings.ttl_secs));
        let local = moka::future::Cache::builder()
            .max_capacity(settings.local_capacity)
            .expire_after(JitteredTtl::new(local_ttl))
            .build();
        let remote = if settings.enabled && !settings.redis_url.is_empty() {
            Some((
                redis::Client::open(settings.redis_url.expose())?,
                Duration::from_millis(settings.redis_timeout_ms),
            ))
        } else {
            None
        };
        let inner = Arc::new(Inner {
            enabled: settings.enabled,
            ttl: Duration::from_secs(settings.ttl_secs),
            local,
            epochs: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: Default::default(),
            remote: remote.as_ref().map(|(_, timeout)| Remote {
                conn: RwLock::new(None),
                channel: format!("{prefix}:invalidations"),
                instance: uuid::Uuid::new_v4().to_string(),
                timeout: *timeout,
                started: Instant::now(),
                down_until_ms: AtomicU64::new(0),
                untrusted_until_ms: AtomicU64::new(0),
                down_logged: AtomicBool::new(false),
            }),
            generation: db.filter(|_| remote.is_some()).map(|db| Generation {
                db,
                current: AtomicU64::new(0),
                read_at_ms: AtomicU64::new(0),
                adopted_at_ms: AtomicU64::new(0),
                max_age: local_ttl,
            }),
            prefix,
            counters: Counters::default(),
            sealer: std::sync::OnceLock::new(),
        });
        if inner.generation.is_some() {
            tokio::spawn(generation_loop(
                Arc::downgrade(&inner),
                (local_ttl / 2).max(Duration::from_millis(5)),
            ));
        }
        if let Some((client, timeout)) = remote {
            tokio::spawn(connect_loop(
                Arc::downgrade(&inner),
                client.clone(),
                timeout,
            ));
            tokio::spawn(listen_loop(Arc::downgrade(&inner), client));
        }
        tracing::info!(
            enabled = settings.enabled,
            redis = inner.remote.is_some(),
            "cache ready"
        );
        Ok(Self { inner })
    }

    pub fn stats(&self) -> CacheStats {
        let c = &self.inner.counters;
        CacheStats {
            local_hits: c.local_hits.load(Ordering::Relaxed),
            remote_hits: c.remote_hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            remote_errors: c.remote_errors.load(Ordering::Relaxed),
        }
    }

    /// True once the Redis tier has a connection (always false without Redis).
    pub fn remote_connected(&self) -> bool {
        self.inner
            .remote
            .as_ref()
            .is_some_and(|r| r.conn.read().is_ok_and(|c| c.is_some()))
    }

    /// The in-process key (also the one named in invalidation messages).
    fn key<T: Cacheable>(&self, id: &str) -> String {
        format!("{}:{}:{}", self.inner.prefix, T::KIND, id)
    }

    /// The Redis key in `generation` (the in-process key without a generation).
    fn remote_key<T: Cacheable>(&self, id: &str, generation: u64) -> String {
        match self.inner.generation {
            Some(_) => format!("{}:g{generation}:{}:{}", self.inner.prefix, T::KIND, id),
            None => self.key::<T>(id),
        }
    }

    fn generation(&self) -> u64 {
        self.inner
            .generation
            .as_ref()
            .map_or(0, |g| g.current.load(Ordering::Acquire))
    }

    /// The cache generation this replica uses (None without one).
    pub fn current_generation(&self) -> Option<u64> {
        self.inner.generation.as_ref().map(|_| self.generation())
    }

    /// True when Redis keys may be used: the generation was read within `local_ttl_ms` and
    /// has been current for at least that long (see the module docs).
    fn generation_settled(&self, remote: &Remote) -> bool {
        self.inner.generation.as_ref().is_none_or(|g| {
            let now = remote.now_ms();
            let max_age = g.max_age.as_millis() as u64;
            let read = g.read_at_ms.load(Ordering::Acquire);
            let adopted = g.adopted_at_ms.load(Ordering::Acquire);
            read > 0 && now.saturating_sub(read) < max_age && now.saturating_sub(adopted) >= max_age
        })
    }

    /// Adopts `generation` if it is newer: the in-process tier and fills in flight may hold
    /// values read under the old one, so they are dropped.
    async fn observe_generation(&self, generation: u64) {
        let Some(g) = &self.inner.generation else {
            return;
        };
        if g.current.fetch_max(generation, Ordering::AcqRel) < generation {
            if let Some(remote) = &self.inner.remote {
                g.adopted_at_ms.store(remote.now_ms(), Ordering::Release);
            }
            for e in &self.inner.epochs {
                e.fetch_add(1, Ordering::AcqRel);
            }
            self.inner.local.invalidate_all();
            tracing::info!(
                generation,
                "cache generation moved; in-process tier cleared"
            );
        }
    }

    fn stripe(&self, key: &str) -> usize {
        (self.inner.hasher.hash_one(key) as usize) % STRIPES
    }

    /// Take this before loading from the database; pass it to [`Cache::fill`].
    pub fn ticket<T: Cacheable>(&self, id: &str) -> FillTicket {
        let stripe = self.stripe(&self.key::<T>(id));
        FillTicket {
            stripe,
            epoch: self.inner.epochs[stripe].load(Ordering::Acquire),
            generation: self.generation(),
        }
    }

    pub async fn get<T: Cacheable>(&self, id: &str) -> Option<Arc<T>> {
        if !self.inner.enabled {
            return None;
        }
        let key = self.key::<T>(id);
        if let Some(v) = self
            .inner
            .local
            .get(&key)
            .await
            .and_then(|v| v.downcast::<T>().ok())
        {
            self.inner
                .counters
                .local_hits
                .fetch_add(1, Ordering::Relaxed);
            return Some(v);
        }
        if let Some(remote) = self
            .inner
            .remote
            .as_ref()
            .filter(|r| r.readable() && self.generation_settled(r))
        {
            // Taken before the read: an invalidation (or a new generation) racing it keeps
            // the value out of the local tier.
            let ticket = self.ticket::<T>(id);
            let remote_key = self.remote_key::<T>(id, ticket.generation);
            let got: Option<Option<Vec<u8>>> = self
                .remote_call(remote, redis::cmd("GET").arg(&remote_key))
                .await;
            if let Some(Some(bytes)) = got
                && bytes != TOMBSTONE
                && let Some(bytes) = self.open_remote(&key, bytes).await
                && let Ok(v) = serde_json::from_slice::<T>(&bytes)
            {
                let v = Arc::new(v);
                self.fill_local(ticket, key, v.clone()).await;
                self.inner
                    .counters
                    .remote_hits
                    .fetch_add(1, Ordering::Relaxed);
                return Some(v);
            }
        }
        self.inner.counters.misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Stores a value loaded from the database, unless it was invalidated since `ticket`.
    pub async fn fill<T: Cacheable>(&self, ticket: FillTicket, id: &str, value: Arc<T>) {
        if !self.inner.enabled {
            return;
        }
        let key = self.key::<T>(id);
        if let Some(remote) = self
            .inner
            .remote
            .as_ref()
            .filter(|r| r.writable() && self.generation_settled(r))
            && let Ok(bytes) = serde_json::to_vec(value.as_ref())
            && let Some(bytes) = self.seal_remote_value(&key, bytes).await
        {
            let ttl_ms = self.inner.ttl.as_millis() as u64;
            // The generation of the ticket: a value loaded before a new generation was seen
            // goes to the old generation's key, where nobody reads any more.
            let remote_key = self.remote_key::<T>(id, ticket.generation);
            // NX: a tombstone left by a concurrent write wins over this (maybe old) value.
            let _: Option<Option<String>> = self
                .remote_call(
                    remote,
                    redis::cmd("SET")
                        .arg(&remote_key)
                        .arg(bytes)
                        .arg("PX")
                        .arg(ttl_ms)
                        .arg("NX"),
                )
                .await;
        }
        self.fill_local(ticket, key, value).await;
    }

    /// Values sent to Redis from now on are sealed under `pii` (bound to their key; a value
    /// that does not open reads as a miss). Set once, before serving.
    pub fn seal_remote(&self, pii: crate::pii::Pii) {
        let _ = self.inner.sealer.set(pii);
    }

    async fn seal_remote_value(&self, key: &str, bytes: Vec<u8>) -> Option<Vec<u8>> {
        match self.inner.sealer.get() {
            None => Some(bytes),
            Some(pii) => pii
                .keys()
                .await
                .ok()?
                .seal_bytes(key.as_bytes(), &bytes)
                .ok(),
        }
    }

    async fn open_remote(&self, key: &str, bytes: Vec<u8>) -> Option<Vec<u8>> {
        match self.inner.sealer.get() {
            None => Some(bytes),
            Some(pii) => pii.keys().await.ok()?.unseal_bytes(key.as_bytes(), &bytes),
        }
    }

    async fn fill_local<T: Cacheable>(&self, ticket: FillTicket, key: String, value: Arc<T>) {
        if self.inner.epochs[ticket.stripe].load(Ordering::Acquire) == ticket.epoch {
            self.inner.local.insert(key, value).await;
        }
    }

    /// Loads through the cache: a hit returns the cached value, a miss calls `load`.
    pub async fn get_or_load<T, E, F, Fut>(&self, id: &str, load: F) -> Result<Option<Arc<T>>, E>
    where
        T: Cacheable,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, E>>,
    {
        if let Some(v) = self.get::<T>(id).await {
            return Ok(Some(v));
        }
        let ticket = self.ticket::<T>(id);
        match load().await? {
            Some(v) => {
                let v = Arc::new(v);
                self.fill(ticket, id, v.clone()).await;
                Ok(Some(v))
            }
            None => Ok(None),
        }
    }

    /// Drops `id` from both tiers and tells other replicas. Call after every committed write.
    pub async fn invalidate<T: Cacheable>(&self, id: &str) {
        if !self.inner.enabled {
            return;
        }
        let key = self.key::<T>(id);
        self.drop_local(&key).await;
        let Some(remote) = self.inner.remote.as_ref() else {
            return;
        };
        let known = self.generation();
        let mut generations = vec![known];
        if let Some(g) = &self.inner.generation {
            // Normally re-read every local_ttl / 2; if that has not worked for a while, read
            // it now, since readers may already use (and fill) a newer generation's keys.
            let age = remote
                .now_ms()
                .saturating_sub(g.read_at_ms.load(Ordering::Acquire));
            if age > (g.max_age.as_millis() as u64) * 3 / 4
                && let Ok(latest) = cache_generation::read(&g.db).await
                && latest != known
            {
                generations.push(latest);
                self.observe_generation(latest).await;
            }
        }
        let tomb_ms = (self.inner.ttl.as_millis() as u64).min(5_000);
        let mut set: Option<Option<String>> = Some(None);
        for generation in generations {
            let tombstoned: Option<Option<String>> = self
                .remote_call(
                    remote,
                    redis::cmd("SET")
                        .arg(self.remote_key::<T>(id, generation))
                        .arg(TOMBSTONE)
                        .arg("PX")
                        .arg(tomb_ms),
                )
                .await;
            set = set.and(tombstoned);
        }
        let published: Option<i64> = self
            .remote_call(
                remote,
                redis::cmd("PUBLISH")
                    .arg(&remote.channel)
                    .arg(format!("{}|{key}", remote.instance)),
            )
            .await;
        if set.is_none() || published.is_none() {
            self.invalidation_lost(remote).await;
        }
    }

    /// Redis may still hold the old value: move every replica to a new generation, or, without
    /// one, stop reading Redis here until that value has expired.
    async fn invalidation_lost(&self, remote: &Remote) {
        if let Some(g) = &self.inner.generation {
            match cache_generation::bump(&g.db).await {
                Ok(generation) => {
                    tracing::warn!(
                        generation,
                        "cache invalidation did not reach redis; moved to a new cache generation"
                    );
                    self.observe_generation(generation).await;
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cache invalidation did not reach redis and the cache generation cannot be moved; other replicas may serve stale values until their local ttl and redis ttl pass");
                }
            }
        }
        let until = remote.now_ms() + self.inner.ttl.as_millis() as u64;
        remote.untrusted_until_ms.fetch_max(until, Ordering::AcqRel);
    }

    async fn drop_local(&self, key: &str) {
        let stripe = self.stripe(key);
        self.inner.epochs[stripe].fetch_add(1, Ordering::AcqRel);
        self.inner.local.invalidate(key).await;
    }

    async fn remote_call<R: redis::FromRedisValue>(
        &self,
        remote: &Remote,
        cmd: &redis::Cmd,
    ) -> Option<R> {
        let mut conn = remote.conn.read().ok()?.clone()?;
        match tokio::time::timeout(remote.timeout, cmd.query_async::<R>(&mut conn)).await {
            Ok(Ok(v)) => {
                if remote.down_logged.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis is back; cache tier re-enabled");
                }
                Some(v)
            }
            outcome => {
                self.inner
                    .counters
                    .remote_errors
                    .fetch_add(1, Ordering::Relaxed);
                remote.down_until_ms.store(
                    remote.now_ms() + BREAKER_OPEN.as_millis() as u64,
                    Ordering::Release,
                );
                if !remote.down_logged.swap(true, Ordering::Relaxed) {
                    let error = match outcome {
                        Ok(Err(e)) => e.to_string(),
                        _ => "timed out".to_owned(),
                    };
                    tracing::warn!(%error, "redis unavailable; bypassing the shared cache tier");
                }
                None
            }
        }
    }
}

impl Remote {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
    fn writable(&self) -> bool {
        self.now_ms() >= self.down_until_ms.load(Ordering::Acquire)
    }
    fn readable(&self) -> bool {
        self.writable() && self.now_ms() >= self.untrusted_until_ms.load(Ordering::Acquire)
    }
}

/// Re-reads the cache generation every `period` while the cache exists.
async fn generation_loop(inner: std::sync::Weak<Inner>, period: Duration) {
    let mut logged = false;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let cache = Cache { inner: strong };
        if let (Some(g), Some(remote)) = (&cache.inner.generation, &cache.inner.remote) {
            match cache_generation::read(&g.db).await {
                Ok(generation) => {
                    cache.observe_generation(generation).await;
                    g.read_at_ms
                        .store(remote.now_ms().max(1), Ordering::Release);
                    logged = false;
                }
                Err(e) => {
                    if !logged {
                        tracing::warn!(error = %e, "cannot read the cache generation; bypassing redis until it can be read");
                        logged = true;
                    }
                }
            }
        }
        drop(cache);
        tokio::time::sleep(period).await;
    }
}

async fn connect_loop(inner: std::sync::Weak<Inner>, client: redis::Client, timeout: Duration) {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1);
    let mut logged = false;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        match client
            .get_connection_manager_with_config(config.clone())
            .await
        {
            Ok(conn) => {
                if let Some(remote) = &strong.remote
                    && let Ok(mut slot) = remote.conn.write()
                {
                    *slot = Some(conn);
                }
                tracing::info!("redis connected");
                return;
            }
            Err(e) => {
                if !logged {
                    tracing::warn!(error = %e, "redis unreachable at start; serving without the shared tier and retrying");
                    logged = true;
                }
            }
        }
        drop(strong);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Drops local copies that other replicas invalidated. After any gap in the subscription
/// the whole local tier is cleared, since messages may have been missed.
async fn listen_loop(inner: std::sync::Weak<Inner>, client: redis::Client) {
    use futures::StreamExt as _;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let Some(remote) = strong.remote.as_ref() else {
            return;
        };
        let channel = remote.channel.clone();
        let me = remote.instance.clone();
        drop(strong);
        if let Ok(mut pubsub) = client.get_async_pubsub().await
            && pubsub.subscribe(&channel).await.is_ok()
        {
            if let Some(strong) = inner.upgrade() {
                strong.local.invalidate_all();
            }
            let mut messages = pubsub.on_message();
            while let Some(msg) = messages.next().await {
                let Some(strong) = inner.upgrade() else {
                    return;
                };
                let payload: String = msg.get_payload().unwrap_or_default();
                if let Some((from, key)) = payload.split_once('|')
                    && from != me
                {
                    let cache = Cache { inner: strong };
                    cache.drop_local(key).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CacheSettings, Secret};

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Thing(u32);
    impl Cacheable for Thing {
        const KIND: &'static str = "thing";
    }

    #[test]
    fn local_entries_expire_spread_over_the_second_half_of_the_ttl() {
        let ttl = Duration::from_millis(1000);
        let jitter = JitteredTtl::new(ttl);
        let value: Arc<dyn Any + Send + Sync> = Arc::new(1u8);
        let at = std::time::Instant::now();
        let lives: Vec<Duration> = (0..200)
            .map(|i| {
                moka::Expiry::expire_after_create(&jitter, &format!("k{i}"), &value, at)
                    .expect("expires")
            })
            .collect();
        assert!(
            lives.iter().all(|l| *l >= ttl / 2 && *l <= ttl),
            "{lives:?}"
        );
        let (min, max) = (lives.iter().min(), lives.iter().max());
        let spread = max.zip(min).map(|(max, min)| *max - *min);
        assert!(spread > Some(ttl / 4), "spread: {min:?}..{max:?}");
    }

    fn settings(redis_url: &str) -> CacheSettings {
        CacheSettings {
            enabled: true,
            redis_url: Secret::new(redis_url),
            key_prefix: format!(
                "crmtest{}",
                &uuid::Uuid::new_v4().simple().to_string()[..10]
            ),
            ttl_secs: 60,
            local_ttl_ms: 5000,
            local_capacity: 1000,
            redis_timeout_ms: 500,
        }
    }

    /// The Redis of `make test`; absent means skipped, except with CI=true.
    fn test_redis() -> Option<String> {
        match std::env::var("CRM_TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CRM_TEST_REDIS_URL must be set in CI"
                );
                eprintln!(
                    "=== SKIPPED: CRM_TEST_REDIS_URL not set; Redis cache tier tests skipped ==="
                );
                None
            }
        }
    }

    async fn fill_after_invalidate_is_dropped(cache: &Cache) {
        // A reader loads version 1 from the database...
        let ticket = cache.ticket::<Thing>("a");
        // ...a writer commits version 2 and invalidates...
        cache.invalidate::<Thing>("a").await;
        // ...and the slow reader tries to cache what it read.
        cache.fill(ticket, "a", Arc::new(Thing(1))).await;
        assert_eq!(
            cache.get::<Thing>("a").await,
            None,
            "a stale fill must not be served"
        );
        let fresh = cache
            .get_or_load("a", || async { Ok::<_, ()>(Some(Thing(2))) })
            .await
            .expect("load");
        assert_eq!(fresh.as_deref(), Some(&Thing(2)));
    }

    #[tokio::test]
    async fn in_process_tier_drops_stale_fills_and_serves_hits() {
        let cache = Cache::new(&settings(""), "svc").expect("cache");
        fill_after_invalidate_is_dropped(&cache).await;
        let loads = std::sync::atomic::AtomicU32::new(0);
        for _ in 0..3 {
            let v = cache
                .get_or_load("b", || async {
                    loads.fetch_add(1, Ordering::Relaxed);
                    Ok::<_, ()>(Some(Thing(7)))
                })
                .await
                .expect("load");
            assert_eq!(v.as_deref(), Some(&Thing(7)));
        }
        assert_eq!(
            loads.load(Ordering::Relaxed),
            1,
            "loaded once, then served from the cache"
        );
        assert!(cache.stats().local_hits >= 2);
    }

    #[tokio::test]
    async fn disabled_cache_always_loads() {
        let mut s = settings("");
        s.enabled = false;
        let cache = Cache::new(&s, "svc").expect("cache");
        cache
            .fill(cache.ticket::<Thing>("a"), "a", Arc::new(Thing(1)))
            .await;
        assert_eq!(cache.get::<Thing>("a").await, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_tier_tombstones_beat_stale_fills_across_replicas() {
        let Some(url) = test_redis() else { return };
        let s = settings(&url);
        let writer = Cache::new(&s, "svc").expect("cache");
        let reader = Cache::new(&s, "svc").expect("cache");
        for _ in 0..100 {
            if writer.remote_connected() && reader.remote_connected() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(writer.remote_connected() && reader.remote_connected());
        // The reader (another replica) starts loading version 1; the writer invalidates.
        let ticket = reader.ticket::<Thing>("k");
        writer.invalidate::<Thing>("k").await;
        // The reader's local epoch has not moved (the pub/sub message may not have arrived),
        // so only the Redis tombstone stops its stale value from reaching Redis.
        reader.fill(ticket, "k", Arc::new(Thing(1))).await;
        reader.inner.local.invalidate_all();
        let third = Cache::new(&s, "svc").expect("cache");
        for _ in 0..100 {
            if third.remote_connected() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            third.get::<Thing>("k").await,
            None,
            "Redis must not hold the stale value"
        );
        // After a fresh load, every replica can be served from Redis.
        let v = third
            .get_or_load("k2", || async { Ok::<_, ()>(Some(Thing(3))) })
            .await
            .expect("load");
        assert_eq!(v.as_deref(), Some(&Thing(3)));
        assert_eq!(writer.get::<Thing>("k2").await.as_deref(), Some(&Thing(3)));
        assert_eq!(writer.stats().remote_hits, 1);
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Contact(String);
    impl Cacheable for Contact {
        const KIND: &'static str = "contact";
    }

    crate::migrator!(PiiSchema: [crate::pii::CreatePiiDataKeys]);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_holds_sealed_values_that_replicas_with_the_keys_open() {
        let Some(url) = test_redis() else { return };
        let db_url = crate::testing::fresh_database_url(crate::testing::Backend::Sqlite).await;
        let db = sea_orm::Database::connect(db_url.as_str())
            .await
            .expect("db");
        crate::db::migrate::<PiiSchema>(&db).await.expect("migrate");
        let pii = crate::pii::Pii::open(db, &crate::testing::test_pii())
            .await
            .expect("keys");
        let s = settings(&url);
        let (writer, reader) = (
            Cache::new(&s, "svc").expect("cache"),
            Cache::new(&s, "svc").expect("cache"),
        );
        writer.seal_remote(pii.clone());
        reader.seal_remote(pii);
        connected(&[&writer, &reader]).await;
        let email = "li.sealed@example.com";
        writer
            .fill(
                writer.ticket::<Contact>("c"),
                "c",
                Arc::new(Contact(email.into())),
            )
            .await;
        let mut conn = redis::Client::open(url.as_str())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", s.key_prefix))
            .query_async(&mut conn)
            .await
            .expect("keys");
        let mut raw = Vec::new();
        for k in &keys {
            if let Ok(Some(v)) = redis::cmd("GET")
                .arg(k)
                .query_async::<Option<Vec<u8>>>(&mut conn)
                .await
            {
                raw.push(v);
            }
        }
        assert_eq!(raw.len(), 1, "{keys:?}");
        assert!(
            !raw[0].windows(email.len()).any(|w| w == email.as_bytes()),
            "sealed in Redis"
        );
        assert_eq!(
            reader.get::<Contact>("c").await,
            Some(Arc::new(Contact(email.into())))
        );
        assert_eq!(reader.stats().remote_hits, 1);
    }

    struct GenerationMigrator;

    impl sea_orm_migration::MigratorTrait for GenerationMigrator {
        fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
            vec![Box::new(cache_generation::CreateCacheGeneration)]
        }
    }

    async fn connected(caches: &[&Cache]) {
        for _ in 0..100 {
            if caches.iter().all(|c| c.remote_connected()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("redis never connected");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_invalidation_moves_every_replica_off_the_old_redis_values() {
        use crate::testing::{
            Backend, TcpProxy, backends, fresh_database_url, host_port, via_port,
        };
        let Some(url) = test_redis() else { return };
        if !backends().contains(&Backend::Postgres) {
            return;
        }
        let db = sea_orm::Database::connect(fresh_database_url(Backend::Postgres).await)
            .await
            .expect("database");
        crate::db::migrate::<GenerationMigrator>(&db)
            .await
            .expect("migrate");
        let local_ttl = Duration::from_millis(400);
        let mut s = settings(&url);
        s.local_ttl_ms = local_ttl.as_millis() as u64;
        let proxy = TcpProxy::start(host_port(&url)).await;
        let writer_settings = CacheSettings {
            redis_url: Secret::new(via_port(&url, proxy.port)),
            ..s.clone()
        };
        let writer = Cache::with_generation(&writer_settings, "svc", db.clone()).expect("cache");
        let reader = Cache::with_generation(&s, "svc", db.clone()).expect("cache");
        let third = Cache::with_generation(&s, "svc", db.clone()).expect("cache");
        connected(&[&writer, &reader, &third]).await;
        tokio::time::sleep(local_ttl).await; // generation read everywhere
        // The reader caches version 1, in Redis too: another replica is served from there.
        let v = reader
            .get_or_load("k", || async { Ok::<_, ()>(Some(Thing(1))) })
            .await
            .expect("load");
        assert_eq!(v.as_deref(), Some(&Thing(1)));
        assert_eq!(third.get::<Thing>("k").await.as_deref(), Some(&Thing(1)));
        assert_eq!(third.stats().remote_hits, 1);
        // The writer commits version 2 but cannot tell Redis.
        proxy.cut();
        writer.invalidate::<Thing>("k").await;
        assert_eq!(
            writer.current_generation(),
            Some(1),
            "moved to a new generation"
        );
        tokio::time::sleep(local_ttl / 2 + Duration::from_millis(250)).await;
        for replica in [&reader, &third] {
            assert_eq!(replica.current_generation(), Some(1));
            assert_eq!(
                replica.get::<Thing>("k").await,
                None,
                "neither the local copy nor the old Redis value is served"
            );
        }
        // Once settled, the new generation's keys work as before.
        tokio::time::sleep(local_ttl + Duration::from_millis(300)).await;
        let v = reader
            .get_or_load("k", || async { Ok::<_, ()>(Some(Thing(2))) })
            .await
            .expect("load");
        assert_eq!(v.as_deref(), Some(&Thing(2)));
        assert_eq!(third.get::<Thing>("k").await.as_deref(), Some(&Thing(2)));
        proxy.restore();
    }
}
