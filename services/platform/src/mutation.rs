//! The write path every service shares, around [`idempotency`]: open a
//! mutation under its request's key, commit it with the response stored for replays, then drop
//! what it changed from the cache.
//!
//! A service keeps one [`Mutations`] and writes its use cases as
//! ```ignore
//! let txn = match self.writes.begin(key).await? {
//!     Begun::Replay(previous) => return Ok(previous),
//!     Begun::Fresh(txn) => txn,
//! };
//! // ... load, decide, write in `txn` ...
//! self.writes.commit(txn, key, Mutation { value, resource, touched: vec![id] }).await
//! ```
use crate::Error;
use crate::cache::Cache;
use crate::idempotency::{self, Begun, IdempotencyKey};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

/// An id whose cached value a mutation may change; a service implements it for its ids, naming
/// the value it caches under them (e.g. `cache.invalidate::<Customer>(&id.0.to_string())`).
pub trait Touched: Send + Sync {
    /// Drops the cached value of this id (local tier and shared tier).
    fn invalidate(&self, cache: &Cache) -> impl Future<Output = ()> + Send;
}

/// The touched ids of a service that caches nothing.
#[derive(Debug, Clone, Copy)]
pub enum Uncached {}

impl Touched for Uncached {
    async fn invalidate(&self, _: &Cache) {
        match *self {}
    }
}

/// The result of one mutation: the response (stored for replays and returned), the resource
/// it is about (for erasure, see [`idempotency::forget_resource`]) and the ids whose cached
/// values it changed.
#[derive(Debug, Clone)]
pub struct Mutation<T, K = Uncached> {
    pub value: T,
    pub resource: String,
    pub touched: Vec<K>,
}

impl<T> Mutation<T> {
    /// A mutation that changes nothing cached.
    pub fn new(resource: impl Into<String>, value: T) -> Self {
        Self {
            value,
            resource: resource.into(),
            touched: Vec::new(),
        }
    }
}

/// What a sealed response is bound to: its request id.
fn response_aad(key: &IdempotencyKey) -> Vec<u8> {
    format!("idempotency:{}", key.request_id).into_bytes()
}

/// Opens and commits a service's mutations on its database, and invalidates its cache.
#[derive(Clone)]
pub struct Mutations {
    db: DatabaseConnection,
    cache: Option<Cache>,
    /// Seals the stored idempotent responses (they hold what the mutation returned).
    pii: Option<crate::pii::Pii>,
}

impl Mutations {
    /// Mutations of a service without a cache.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            cache: None,
            pii: None,
        }
    }

    /// Mutations whose touched ids are dropped from `cache` after commit.
    pub fn with_cache(db: DatabaseConnection, cache: Cache) -> Self {
        Self {
            db,
            cache: Some(cache),
            pii: None,
        }
    }

    /// These mutations with their stored responses sealed under `pii` (responses that carry
    /// personal data).
    pub fn sealing(self, pii: crate::pii::Pii) -> Self {
        Self {
            pii: Some(pii),
            ..self
        }
    }

    /// Opens a mutation guarded by `key`; `Replay` carries the result of an earlier call.
    pub async fn begin<T: DeserializeOwned>(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Begun<T>, Error> {
        let Some(pii) = &self.pii else {
            return idempotency::begin(&self.db, key).await;
        };
        let keys = pii.keys().await?;
        Ok(
            match idempotency::begin::<crate::pii::Stored<T>>(&self.db, key).await? {
                Begun::Replay(stored) => {
                    Begun::Replay(keys.unseal_json(&response_aad(key), stored)?)
                }
                Begun::Fresh(txn) => Begun::Fresh(txn),
            },
        )
    }

    /// Commits a mutation with its idempotent response, then drops what it touched from the
    /// cache (after the commit, so no reader can refill the cache with the old state).
    pub async fn commit<T: Serialize, K: Touched>(
        &self,
        txn: DatabaseTransaction,
        key: &IdempotencyKey,
        m: Mutation<T, K>,
    ) -> Result<T, Error> {
        match &self.pii {
            Some(pii) => {
                let sealed = pii.keys().await?.seal_json(&response_aad(key), &m.value)?;
                idempotency::commit(txn, key, &m.resource, &sealed).await?;
            }
            None => idempotency::commit(txn, key, &m.resource, &m.value).await?,
        }
        self.invalidate(&m.touched).await;
        Ok(m.value)
    }

    /// Drops the cached values of `touched` (for writes that commit on their own).
    pub async fn invalidate<K: Touched>(&self, touched: &[K]) {
        if let Some(cache) = &self.cache {
            for id in touched {
                id.invalidate(cache).await;
            }
        }
    }
}

/// Declares, inside a service's `impl`, the methods its use cases call on its [`Mutations`]
/// field (a path such as `core.writes`): `begin(key)`, and with the service's [`Touched`] id type also
/// `commit(txn, key, Mutation<T, $touched>)` and `invalidate(&[$touched])`.
#[macro_export]
macro_rules! write_path {
    ($($field:ident).+) => {
        /// Opens a mutation guarded by `key`; `Replay` carries the result of an earlier call.
        async fn begin<T: $crate::app::__private::DeserializeOwned>(
            &self,
            key: &$crate::idempotency::IdempotencyKey,
        ) -> Result<$crate::idempotency::Begun<T>, $crate::Error> {
            self.$($field).+.begin(key).await
        }
    };
    ($($field:ident).+, $touched:ty) => {
        $crate::write_path!($($field).+);

        /// Commits a mutation with its response, then drops what it touched from the cache.
        async fn commit<T: $crate::app::__private::Serialize>(
            &self,
            txn: $crate::app::__private::DatabaseTransaction,
            key: &$crate::idempotency::IdempotencyKey,
            m: $crate::mutation::Mutation<T, $touched>,
        ) -> Result<T, $crate::Error> {
            self.$($field).+.commit(txn, key, m).await
        }

        /// Drops the cached values of `touched` (for writes that commit on their own).
        async fn invalidate(&self, touched: &[$touched]) {
            self.$($field).+.invalidate(touched).await;
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RequestId;

    crate::migrator!(IdempotencyOnly: [idempotency::CreateIdempotencyKeys]);

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Thing(u32);

    impl crate::cache::Cacheable for Thing {
        const KIND: &'static str = "thing";
    }

    struct ThingId(&'static str);

    impl Touched for ThingId {
        async fn invalidate(&self, cache: &Cache) {
            cache.invalidate::<Thing>(self.0).await;
        }
    }

    async fn database() -> DatabaseConnection {
        let url = crate::testing::fresh_database_url(crate::testing::Backend::Sqlite).await;
        let db = sea_orm::Database::connect(url).await.expect("sqlite");
        crate::db::migrate::<IdempotencyOnly>(&db)
            .await
            .expect("migrate");
        db
    }

    fn cache() -> Cache {
        let mut l = crate::config::Loader::new(&[], None).expect("defaults");
        let settings: crate::config::CacheSettings = l.section("cache").expect("cache");
        Cache::new(&settings, "mutation-test").expect("cache")
    }

    fn key(request: &str) -> IdempotencyKey {
        IdempotencyKey::new(RequestId::parse(request).expect("uuid"), "Make", b"payload")
    }

    #[tokio::test]
    async fn a_committed_response_is_replayed_and_touched_ids_are_invalidated() {
        let cache = cache();
        let writes = Mutations::with_cache(database().await, cache.clone());
        cache
            .get_or_load("a", || async { Ok::<_, Error>(Some(Thing(1))) })
            .await
            .expect("load");
        assert!(
            cache.get::<Thing>("a").await.is_some(),
            "cached before the write"
        );
        let k = key("0190f5a8-7b1c-7cc3-8a4e-0123456789ab");
        let Begun::Fresh(txn) = writes.begin::<u32>(&k).await.expect("begin") else {
            panic!("a new key opens a transaction");
        };
        let m = Mutation {
            value: 7_u32,
            resource: "things/a".into(),
            touched: vec![ThingId("a")],
        };
        assert_eq!(writes.commit(txn, &k, m).await.expect("commit"), 7);
        assert!(cache.get::<Thing>("a").await.is_none(), "invalidated");
        match writes.begin::<u32>(&k).await.expect("begin again") {
            Begun::Replay(v) => assert_eq!(v, 7),
            Begun::Fresh(_) => panic!("the same key replays"),
        }
    }

    #[tokio::test]
    async fn an_uncached_service_commits_untouched_mutations() {
        let writes = Mutations::new(database().await);
        let k = key("0190f5a8-7b1c-7cc3-8a4e-0123456789ac");
        let Begun::Fresh(txn) = writes.begin::<String>(&k).await.expect("begin") else {
            panic!("a new key opens a transaction");
        };
        let value = writes
            .commit(txn, &k, Mutation::new("things/b", "done".to_owned()))
            .await
            .expect("commit");
        assert_eq!(value, "done");
    }
}
