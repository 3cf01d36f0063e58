//! Personal data at rest: envelope encryption and blind indexes.
//!
//! Key-encryption keys (KEKs, `[[pii.keys]]`, from a Secret) wrap the service's data keys,
//! which live wrapped in its `pii_data_keys` table ([`CreatePiiDataKeys`]). Rows are sealed
//! with AES-256-GCM under the data key of the active KEK and carry that key's id; exact
//! look-ups go through blind indexes (HMAC-SHA256 of the normalised value under a separate
//! index key). Rotation: a new active KEK gets a new data key for new writes, the old data
//! keys are re-wrapped under it at start, and [`spawn_reencryption`] moves every row to the
//! new data key, then deletes the old ones.
mod cipher;
mod keys;
mod migration;
mod reencrypt;
mod settings;
#[cfg(test)]
mod tests;

pub use cipher::{Keys, OVERHEAD, Sealed};
pub use keys::data_key_id;
pub use migration::CreatePiiDataKeys;
pub use reencrypt::{Reseal, reencrypt, spawn_reencryption};
pub use settings::{DEV_KEY_ID, KEY_BYTES, KekSettings, PiiSettings};

use crate::Error;
use keys::LoadError;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;

/// The key id of rows written before encryption existed: plain values, plain search keys,
/// rewritten by the re-encryption job.
pub const LEGACY: &str = "legacy";

/// How long a start waits for the database to load the keys before loading them on first use.
const LOAD_AT_START: Duration = Duration::from_secs(10);

/// A service's personal-data keys, loaded once. Clones share them.
#[derive(Clone)]
pub struct Pii {
    inner: Arc<Inner>,
}

struct Inner {
    db: DatabaseConnection,
    settings: PiiSettings,
    keys: tokio::sync::OnceCell<Arc<Keys>>,
}

impl Pii {
    /// Loads the keys: a KEK that is missing or does not open a data key fails here, so a
    /// misconfigured service never starts. A database that does not answer yet (a pod up
    /// before its database) leaves the load to the first use.
    pub async fn open(db: DatabaseConnection, settings: &PiiSettings) -> anyhow::Result<Pii> {
        if !settings.encrypt {
            tracing::warn!(
                "pii encryption is off: new writes keep personal data in plain text at rest"
            );
        }
        let pii = Pii {
            inner: Arc::new(Inner {
                db,
                settings: settings.clone(),
                keys: tokio::sync::OnceCell::new(),
            }),
        };
        match tokio::time::timeout(LOAD_AT_START, pii.load()).await {
            Ok(Ok(_)) => {}
            Ok(Err(LoadError::Database(e))) => {
                tracing::warn!(error = %e, "pii keys not loaded at start; loading on first use");
            }
            Err(_) => {
                tracing::warn!("pii keys not loaded at start (timeout); loading on first use")
            }
            Ok(Err(e)) => return Err(anyhow::anyhow!(e)),
        }
        Ok(pii)
    }

    async fn load(&self) -> Result<&Arc<Keys>, LoadError> {
        self.inner
            .keys
            .get_or_try_init(|| async {
                let keys = keys::load(&self.inner.db, &self.inner.settings).await?;
                tracing::info!(
                    write_key = keys.write_key().unwrap_or("none: plain text"),
                    data_keys = keys.data.len(),
                    "pii keys loaded"
                );
                Ok(Arc::new(keys))
            })
            .await
    }

    /// The loaded keys (loading them when the start could not).
    pub async fn keys(&self) -> Result<Arc<Keys>, Error> {
        if let Some(k) = self.inner.keys.get() {
            return Ok(k.clone());
        }
        match self.load().await {
            Ok(k) => Ok(k.clone()),
            Err(LoadError::Database(e)) => Err(Error::unavailable(e)),
            Err(e) => {
                tracing::error!(error = %e, "pii keys cannot be loaded");
                Err(Error::internal(anyhow::anyhow!(e)))
            }
        }
    }

    pub fn settings(&self) -> &PiiSettings {
        &self.inner.settings
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }
}
