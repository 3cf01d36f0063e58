//! The key lifecycle against a real `pii_data_keys` table: creation, agreement between
//! replicas, wrong and missing key-encryption keys, rotation (re-wrap, re-encryption,
//! retirement), encryption off, the development key. SQLite always, PostgreSQL when set.
use super::keys::entity;
use super::*;
use crate::Error;
use crate::config::Secret;
use crate::testing::{Backend, each_backend, fresh_database_url};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sea_orm::DatabaseConnection;
use sea_orm::EntityTrait as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

crate::migrator!(Schema: [CreatePiiDataKeys]);

/// A fresh migrated database of `backend`: its URL, for more pools (replicas) on it.
async fn fresh(backend: Backend) -> String {
    let url = fresh_database_url(backend).await;
    crate::db::migrate::<Schema>(&pool(&url).await)
        .await
        .expect("migrate");
    url
}

/// A pool of its own on `url`, as a replica has.
async fn pool(url: &str) -> DatabaseConnection {
    let mut l = crate::config::Loader::new(&[], None).expect("defaults");
    let mut s: crate::config::DatabaseSettings = l.section("database").expect("database");
    s.url = Secret::new(url);
    crate::db::connect(&s, "pii").await.expect("pool")
}

/// A random KEK, base64.
fn secret() -> String {
    STANDARD.encode(super::cipher::random_bytes::<32>().expect("random"))
}

fn kek(id: &str, secret: &str) -> KekSettings {
    KekSettings {
        id: id.into(),
        secret: Secret::new(secret),
        secret_file: String::new(),
    }
}

/// Encryption on with `keys`, `active` the active KEK ("" = the only one), no retirement grace.
fn settings(keys: Vec<KekSettings>, active: &str) -> PiiSettings {
    PiiSettings {
        encrypt: true,
        active_key: active.into(),
        dev_key_file: String::new(),
        reencrypt_batch: 2,
        reencrypt_interval_secs: 3600,
        retire_after_secs: 0,
        keys,
    }
}

/// `Pii::open` on a pool of its own.
async fn open(url: &str, s: &PiiSettings) -> anyhow::Result<Pii> {
    Pii::open(pool(url).await, s).await
}

async fn keys_of(url: &str, s: &PiiSettings) -> Arc<Keys> {
    open(url, s)
        .await
        .expect("open")
        .keys()
        .await
        .expect("keys")
}

/// The stored keys as `(id, purpose, kek id)`, sorted.
async fn stored(url: &str) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = entity::Entity::find()
        .all(&pool(url).await)
        .await
        .expect("pii_data_keys")
        .into_iter()
        .map(|r| (r.id, r.purpose, r.kek_id))
        .collect();
    rows.sort();
    rows
}

fn row(id: &str, purpose: &str, kek: &str) -> (String, String, String) {
    (id.into(), purpose.into(), kek.into())
}

/// The full stored rows (wrapped bytes included), to show a refused start changed nothing.
async fn snapshot(url: &str) -> Vec<entity::Model> {
    let mut rows = entity::Entity::find()
        .all(&pool(url).await)
        .await
        .expect("pii_data_keys");
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    rows
}

const AAD: &[u8] = b"customers:1";
const EMAIL: &[u8] = b"li.wei@example.com";

fn opens(keys: &Keys, sealed: &Sealed) -> Vec<u8> {
    keys.unseal(sealed.key.as_deref(), AAD, &sealed.bytes)
        .expect("unseal")
}

#[tokio::test]
async fn the_first_open_creates_the_index_key_and_one_data_key() {
    each_backend(|backend| async move {
        let url = fresh(backend).await;
        let s = settings(vec![kek("a", &secret())], "");
        let keys = keys_of(&url, &s).await;
        assert_eq!(keys.write_key(), Some("data-a"));
        assert_eq!(
            stored(&url).await,
            [row("data-a", "data", "a"), row("index", "index", "a")]
        );
        let sealed = keys.seal(AAD, EMAIL).expect("seal");
        assert_eq!(sealed.key.as_deref(), Some("data-a"));
        assert_ne!(sealed.bytes, EMAIL);
    })
    .await;
}

#[tokio::test]
async fn a_second_open_with_the_same_settings_gets_the_same_keys() {
    each_backend(|backend| async move {
        let url = fresh(backend).await;
        let s = settings(vec![kek("a", &secret())], "");
        let first = keys_of(&url, &s).await;
        let sealed = first.seal(AAD, EMAIL).expect("seal");
        let before = snapshot(&url).await;
        let second = keys_of(&url, &s).await;
        assert_eq!(opens(&second, &sealed), EMAIL);
        assert_eq!(
            second.index("email", "li.wei@example.com"),
            first.index("email", "li.wei@example.com")
        );
        assert_eq!(snapshot(&url).await, before, "nothing re-created");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_opening_at_the_same_time_agree_on_the_keys() {
    each_backend(|backend| async move {
        for _ in 0..3 {
            let url = fresh(backend).await;
            let s = settings(vec![kek("a", &secret())], "");
            let (p1, p2) = (pool(&url).await, pool(&url).await);
            let (a, b) = tokio::join!(Pii::open(p1, &s), Pii::open(p2, &s));
            let a = a.expect("open a").keys().await.expect("keys a");
            let b = b.expect("open b").keys().await.expect("keys b");
            assert_eq!(opens(&b, &a.seal(AAD, EMAIL).expect("seal")), EMAIL);
            assert_eq!(opens(&a, &b.seal(AAD, EMAIL).expect("seal")), EMAIL);
            assert_eq!(
                a.index("phone", "+8613800138000"),
                b.index("phone", "+8613800138000")
            );
            assert_eq!(stored(&url).await.len(), 2);
        }
    })
    .await;
}

#[tokio::test]
async fn a_wrong_secret_fails_the_open_naming_key_ids_and_never_a_secret() {
    each_backend(|backend| async move {
        let url = fresh(backend).await;
        let right = secret();
        keys_of(&url, &settings(vec![kek("a", &right)], "")).await;
        let before = snapshot(&url).await;
        let wrong = secret();
        let Err(e) = open(&url, &settings(vec![kek("a", &wrong)], "")).await else {
            panic!("a wrong key-encryption key opened the keys");
        };
        let text = format!("{e:#} {e:?}");
        assert!(text.contains("\"a\""), "{text}");
        assert!(
            text.contains("\"index\"") || text.contains("\"data-a\""),
            "{text}"
        );
        assert!(text.contains("wrong key"), "{text}");
        assert!(!text.contains(&wrong) && !text.contains(&right), "{text}");
        // A wrong key for a new active KEK id: refused too, and nothing was written.
        let Err(e) = open(
            &url,
            &settings(vec![kek("a", &wrong), kek("b", &secret())], "b"),
        )
        .await
        else {
            panic!("a wrong old key-encryption key opened the keys");
        };
        assert!(!format!("{e:?}").contains(&wrong));
        assert_eq!(
            snapshot(&url).await,
            before,
            "a refused start writes nothing"
        );
        keys_of(&url, &settings(vec![kek("a", &right)], "")).await;
    })
    .await;
}

#[tokio::test]
async fn a_kek_removed_while_it_wraps_a_data_key_fails_the_open() {
    each_backend(|backend| async move {
        let url = fresh(backend).await;
        let a = secret();
        keys_of(&url, &settings(vec![kek("a", &a)], "")).await;
        let before = snapshot(&url).await;
        let Err(e) = open(&url, &settings(vec![kek("b", &secret())], "")).await else {
            panic!("opened without the KEK wrapping data-a");
        };
        let text = format!("{e:#}");
        assert!(
            text.contains("\"a\"") && text.contains("not configured"),
            "{text}"
        );
        // Refused before writing: no `data-b` wrapped by "b", so going back to "a" alone works.
        assert_eq!(snapshot(&url).await, before);
        keys_of(&url, &settings(vec![kek("a", &a)], "")).await;
    })
    .await;
}

#[tokio::test]
async fn rotation_writes_under_a_new_data_key_and_rewraps_the_old_one() {
    each_backend(|backend| async move {
        let url = fresh(backend).await;
        let (a, b) = (secret(), secret());
        let old = keys_of(&url, &settings(vec![kek("a", &a)], "")).await;
        let under_a = old.seal(AAD, EMAIL).expect("seal");
        let email_index = old.index("email", "li.wei@example.com");

        let both = keys_of(&url, &settings(vec![kek("a", &a), kek("b", &b)], "b")).await;
        assert_eq!(both.write_key(), Some("data-b"));
        assert!(both.is_stale(Some("data-a")));
        assert!(!both.is_stale(Some("data-b")));
        assert_eq!(
            stored(&url).await,
            [
                row("data-a", "data", "b"),
                row("data-b", "data", "b"),
                row("index", "index", "b"),
            ]
        );
        assert_eq!(opens(&both, &under_a), EMAIL);
        let under_b = both.seal(AAD, EMAIL).expect("seal");
        assert_eq!(under_b.key.as_deref(), Some("data-b"));

        // "a" may go now: everything is wrapped by "b".
        let only_b = keys_of(&url, &settings(vec![kek("b", &b)], "")).await;
        assert_eq!(opens(&only_b, &under_a), EMAIL);
        assert_eq!(opens(&only_b, &under_b), EMAIL);
        assert_eq!(only_b.index("email", "li.wei@example.com"), email_index);
        assert_eq!(only_b.write_key(), Some("data-b"));
    })
    .await;
}

/// A sealed "table" of a service: rows keyed by id carrying their data key id.
#[derive(Clone, Default)]
struct Rows {
    rows: Arc<Mutex<Vec<Stored>>>,
    /// While set, `reseal_page` rewrites nothing (the job has not reached the rows yet).
    paused: Arc<AtomicBool>,
}

#[derive(Clone, Debug)]
struct Stored {
    id: u32,
    key: Option<String>,
    bytes: Vec<u8>,
}

fn aad(id: u32) -> Vec<u8> {
    format!("things:{id}").into_bytes()
}

impl Rows {
    fn insert(&self, keys: &Keys, id: u32, plain: &str) {
        let s = keys.seal(&aad(id), plain.as_bytes()).expect("seal");
        self.rows.lock().expect("rows").push(Stored {
            id,
            key: s.key,
            bytes: s.bytes,
        });
    }

    fn insert_legacy(&self, id: u32, plain: &str) {
        self.rows.lock().expect("rows").push(Stored {
            id,
            key: Some(LEGACY.into()),
            bytes: plain.as_bytes().to_vec(),
        });
    }

    fn key_ids(&self) -> Vec<Option<String>> {
        self.rows
            .lock()
            .expect("rows")
            .iter()
            .map(|r| r.key.clone())
            .collect()
    }

    fn plain(&self, keys: &Keys) -> Vec<String> {
        self.rows
            .lock()
            .expect("rows")
            .iter()
            .map(|r| {
                let b = keys
                    .unseal(r.key.as_deref(), &aad(r.id), &r.bytes)
                    .expect("unseal");
                String::from_utf8(b).expect("utf-8")
            })
            .collect()
    }
}

impl Reseal for Rows {
    async fn reseal_page(&self, keys: &Keys, limit: u64) -> Result<u64, Error> {
        if self.paused.load(Ordering::SeqCst) {
            return Ok(0);
        }
        let mut rows = self.rows.lock().expect("rows");
        let mut n = 0;
        for r in rows
            .iter_mut()
            .filter(|r| keys.is_stale(r.key.as_deref()))
            .take(limit as usize)
        {
            let plain = match r.key.as_deref() {
                Some(LEGACY) => r.bytes.clone(),
                key => keys.unseal(key, &aad(r.id), &r.bytes)?,
            };
            let s = keys.seal(&aad(r.id), &plain)?;
            (r.key, r.bytes) = (s.key, s.bytes);
            n += 1;
        }
        Ok(n)
    }

    async fn keys_in_use(&self) -> Result<Vec<String>, Error> {
        let mut ids: Vec<String> = self.key_ids().into_iter().flatten().collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}

#[tokio::test]
async fn reencryption_moves_every_row_then_retires_the_old_data_key() {
    each_backend(|backend| async move {
        let url = fresh(backend).await;
        let (a, b) = (secret(), secret());
        let old = keys_of(&url, &settings(vec![kek("a", &a)], "")).await;
        let rows = Rows::default();
        let plain: Vec<String> = (0..5).map(|i| format!("person{i}@example.com")).collect();
        for (i, p) in plain.iter().enumerate() {
            rows.insert(&old, i as u32, p);
        }
        rows.insert_legacy(9, "legacy@example.com");
        let mut expected = plain.clone();
        expected.push("legacy@example.com".into());

        let rotated = settings(vec![kek("a", &a), kek("b", &b)], "b");
        let pii = open(&url, &rotated).await.expect("open");
        // Rows not moved yet: the old data key stays, whatever the grace.
        rows.paused.store(true, Ordering::SeqCst);
        assert_eq!(reencrypt(&pii, &rows).await.expect("pass"), 0);
        assert!(stored(&url).await.contains(&row("data-a", "data", "b")));

        // Moved, but within the grace (replicas on the old configuration may still write
        // under data-a): kept.
        rows.paused.store(false, Ordering::SeqCst);
        let graceful = PiiSettings {
            retire_after_secs: 3600,
            ..rotated.clone()
        };
        let pii_grace = open(&url, &graceful).await.expect("open");
        assert_eq!(reencrypt(&pii_grace, &rows).await.expect("pass"), 6);
        let moved = rows.key_ids();
        assert!(
            moved.iter().all(|k| k.as_deref() == Some("data-b")),
            "{moved:?}"
        );
        assert!(stored(&url).await.contains(&row("data-a", "data", "b")));

        // No grace: retired now that no row uses it.
        assert_eq!(reencrypt(&pii, &rows).await.expect("pass"), 0);
        assert_eq!(
            stored(&url).await,
            [row("data-b", "data", "b"), row("index", "index", "b")]
        );
        let only_b = keys_of(&url, &settings(vec![kek("b", &b)], "")).await;
        assert_eq!(rows.plain(&only_b), expected);
        assert_eq!(rows.plain(&pii.keys().await.expect("keys")), expected);
    })
    .await;
}

#[tokio::test]
async fn reencryption_leaves_a_data_key_some_row_still_uses() {
    each_backend(|backend| async move {
        let url = fresh(backend).await;
        let (a, b) = (secret(), secret());
        let old = keys_of(&url, &settings(vec![kek("a", &a)], "")).await;
        let rows = Rows::default();
        rows.insert(&old, 1, "one@example.com");
        // A row the job cannot see (another table of the service) still under data-a.
        let hidden = Rows::default();
        hidden.insert(&old, 2, "two@example.com");
        #[derive(Clone)]
        struct Both(Rows, Rows);
        impl Reseal for Both {
            async fn reseal_page(&self, keys: &Keys, limit: u64) -> Result<u64, Error> {
                self.0.reseal_page(keys, limit).await
            }
            async fn keys_in_use(&self) -> Result<Vec<String>, Error> {
                let mut ids = self.0.keys_in_use().await?;
                ids.extend(self.1.keys_in_use().await?);
                Ok(ids)
            }
        }
        let pii = open(&url, &settings(vec![kek("a", &a), kek("b", &b)], "b"))
            .await
            .expect("open");
        assert_eq!(
            reencrypt(&pii, &Both(rows, hidden.clone()))
                .await
                .expect("pass"),
            1
        );
        assert!(stored(&url).await.contains(&row("data-a", "data", "b")));
        let only_b = keys_of(&url, &settings(vec![kek("b", &b)], "")).await;
        assert_eq!(hidden.plain(&only_b), ["two@example.com"]);
    })
    .await;
}

#[tokio::test]
async fn encryption_off_keeps_plain_text_and_the_same_blind_indexes() {
    each_backend(|backend| async move {
        let url = fresh(backend).await;
        let on = settings(vec![kek("a", &secret())], "");
        let encrypted = keys_of(&url, &on).await;
        let sealed = encrypted.seal(AAD, EMAIL).expect("seal");
        let off = keys_of(
            &url,
            &PiiSettings {
                encrypt: false,
                ..on.clone()
            },
        )
        .await;
        let plain = off.seal(AAD, EMAIL).expect("seal");
        assert_eq!(
            plain,
            Sealed {
                key: None,
                bytes: EMAIL.to_vec()
            }
        );
        assert_eq!(off.write_key(), None);
        assert_eq!(
            off.index("email", "li.wei@example.com"),
            encrypted.index("email", "li.wei@example.com")
        );
        assert_eq!(opens(&off, &sealed), EMAIL, "encrypted rows stay readable");
        assert!(!off.is_stale(Some("data-a")) && !off.is_stale(None));
        assert_eq!(opens(&encrypted, &plain), EMAIL);
        assert!(
            encrypted.is_stale(None),
            "plain rows are re-encrypted once it is on"
        );
    })
    .await;
}

/// A dev key path in a directory that does not exist yet.
fn dev_key_path() -> std::path::PathBuf {
    std::env::temp_dir()
        .join("crm-tests")
        .join(uuid::Uuid::new_v4().simple().to_string())
        .join("data")
        .join("pii-dev.key")
}

#[tokio::test]
async fn without_keys_a_private_development_key_is_created_and_reused() {
    each_backend(|backend| async move {
        let url = fresh(backend).await;
        let path = dev_key_path();
        let s = PiiSettings {
            dev_key_file: path.to_string_lossy().into_owned(),
            ..settings(vec![], "")
        };
        let first = keys_of(&url, &s).await;
        assert_eq!(first.write_key(), Some("data-dev"));
        assert_eq!(
            stored(&url).await,
            [row("data-dev", "data", "dev"), row("index", "index", "dev")]
        );
        let text = std::fs::read_to_string(&path).expect("dev key file");
        assert_eq!(
            STANDARD.decode(text.trim()).expect("base64").len(),
            KEY_BYTES
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        let sealed = first.seal(AAD, EMAIL).expect("seal");
        let second = keys_of(&url, &s).await;
        assert_eq!(std::fs::read_to_string(&path).expect("dev key file"), text);
        assert_eq!(opens(&second, &sealed), EMAIL);
        let leftovers = std::fs::read_dir(path.parent().expect("dir"))
            .expect("dir")
            .count();
        assert_eq!(leftovers, 1, "no temporary files left");
    })
    .await;
}

#[test]
fn processes_creating_the_development_key_at_once_agree_on_it() {
    for _ in 0..20 {
        let path = dev_key_path();
        let start = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    super::settings::dev_key(path.to_str().expect("utf-8 path"))
                })
            })
            .collect();
        let keys: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().expect("thread").expect("dev key"))
            .collect();
        assert!(keys.iter().all(|k| *k == keys[0]));
        let text = std::fs::read_to_string(&path).expect("dev key file");
        assert_eq!(STANDARD.decode(text.trim()).expect("base64"), keys[0]);
    }
}
