//! The re-encryption job: rows under an old data key (or legacy plain text) are rewritten
//! under the write key a page at a time, then data keys no row uses are deleted.
use super::{Keys, Pii};
use crate::Error;
use crate::jobs::Jobs;
use std::future::Future;
use std::time::Duration;

/// A service's sealed rows, as the job sees them.
pub trait Reseal: Clone + Send + Sync + 'static {
    /// Rewrites up to `limit` rows for which `keys.is_stale(key)` under the write key (with
    /// their blind indexes), each page one transaction; how many it rewrote. Content, revision
    /// and etag stay as they are.
    fn reseal_page(
        &self,
        keys: &Keys,
        limit: u64,
    ) -> impl Future<Output = Result<u64, Error>> + Send;

    /// The distinct data key ids rows still carry (over every sealed table of the service).
    fn keys_in_use(&self) -> impl Future<Output = Result<Vec<String>, Error>> + Send;
}

/// One pass: pages until no stale row is left, then the retirement of unused data keys.
/// Returns the rows rewritten.
pub async fn reencrypt(pii: &Pii, rows: &impl Reseal) -> Result<u64, Error> {
    let keys = pii.keys().await?;
    let s = pii.settings();
    let batch = u64::from(s.reencrypt_batch);
    let mut total = 0u64;
    loop {
        let n = rows.reseal_page(&keys, batch).await?;
        total += n;
        if n == 0 {
            break;
        }
        if total % (batch * 50) < n {
            tracing::info!(rows = total, "pii re-encryption in progress");
        }
    }
    if total > 0 {
        tracing::info!(rows = total, "pii re-encryption complete");
    }
    if let Some(write_key) = keys.write_key() {
        let in_use = rows.keys_in_use().await?;
        super::keys::retire_unused(
            pii.db(),
            write_key,
            &in_use,
            Duration::from_secs(s.retire_after_secs),
        )
        .await?;
    }
    Ok(total)
}

/// Runs [`reencrypt`] every `reencrypt_interval_secs` as job `name`.
pub fn spawn_reencryption<R: Reseal>(jobs: &mut Jobs, pii: Pii, name: &'static str, rows: R) {
    let period = Duration::from_secs(pii.settings().reencrypt_interval_secs);
    jobs.every(period, name, (pii, rows), |(pii, rows)| async move {
        reencrypt(&pii, &rows).await.map(|_| ())
    });
}
