//! The model build and publish, its job, RebuildModel / GetModel and the `rebuild`
//! subcommand.
//!
//! A build reads interactions in pages (bounded, see [`load`]), computes on a blocking
//! thread ([`compute`], the algorithms of `domain::model`), then publishes version N+1:
//! it claims N+1 (the global popularity list's primary key: a replica that claimed it first
//! wins, the other gives up), writes its rows in batches, and writes the `model_versions`
//! row last, so serving (which reads the highest version) never sees half a build. Versions
//! beyond `keep_versions` are then deleted.
mod compute;
mod content;
mod load;

use super::{Cached, RecommendationService};
use crate::domain::model::{ItemModel, ModelInfo, Neighbour, Popular, Rule, Scope};
use crate::settings::RecommendationsSettings;
use crate::store;
use compute::Built;
use crm_platform::Error;
use crm_platform::idempotency::{Begun, IdempotencyKey};
use crm_platform::jobs::Jobs;
use crm_platform::mutation::{Mutation, Touched};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Item rows per insert.
const ITEM_ROWS: usize = 500;
/// Popularity lists per insert (each up to `popular_top_n` entries).
const LIST_ROWS: usize = 50;
/// Times a build tries again with the next version after losing a race for one.
const CLAIM_TRIES: u32 = 3;

/// Builds in this process take turns: two at once would only double the memory.
static BUILDS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The model as GetModel and RebuildModel answer: the current version (`None` before the
/// first build) and the interactions recorded since it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelState {
    pub info: Option<ModelInfo>,
    pub pending_interactions: u64,
}

/// The outcome of one attempt to publish.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    Version(ModelInfo),
    /// Another build (a replica) took the version this one computed for.
    Lost(i64),
}

/// Starts the rebuild job (`rebuild.interval_secs` > 0).
pub fn start(svc: &RecommendationService, jobs: &mut Jobs) {
    let every = Duration::from_secs(svc.settings().rebuild.interval_secs);
    jobs.every(every, "model rebuild", svc.clone(), move |svc| async move {
        svc.scheduled_rebuild(every).await
    });
}

impl RecommendationService {
    /// Builds and publishes a new model version now.
    pub async fn rebuild_now(&self) -> Result<ModelInfo, Error> {
        let mut tries = 0;
        loop {
            match self.build().await? {
                Published::Version(info) => return Ok(info),
                Published::Lost(version) if tries < CLAIM_TRIES => {
                    tries += 1;
                    tracing::info!(
                        version,
                        "model version taken by another build, trying the next"
                    );
                }
                Published::Lost(_) => {
                    return Err(Error::unavailable(anyhow::anyhow!(
                        "other builds kept taking the model version"
                    )));
                }
            }
        }
    }

    /// RebuildModel: a rebuild now, once per request id. The build runs outside any
    /// transaction (it takes seconds and, on SQLite, a transaction would hold the only
    /// connection), so two identical calls at once may both build; both answer the first
    /// answer recorded.
    pub async fn rebuild_model(&self, key: &IdempotencyKey) -> Result<ModelState, Error> {
        // An id used before: replay, or refuse a reuse, before building anything.
        match self.core().writes.begin::<ModelState>(key).await? {
            Begun::Replay(previous) => return Ok(previous),
            Begun::Fresh(txn) => txn.rollback().await?,
        }
        let info = self.rebuild_now().await?;
        let state = ModelState {
            pending_interactions: pending(self.db(), Some(&info)).await?,
            info: Some(info),
        };
        match self.core().writes.begin::<ModelState>(key).await? {
            Begun::Replay(previous) => Ok(previous),
            Begun::Fresh(txn) => {
                self.core()
                    .writes
                    .commit(txn, key, Mutation::new("model", state))
                    .await
            }
        }
    }

    /// GetModel: the current version and the interactions recorded since.
    pub async fn model(&self) -> Result<ModelState, Error> {
        let info = store::model::current(self.db()).await?;
        Ok(ModelState {
            pending_interactions: pending(self.db(), info.as_ref()).await?,
            info,
        })
    }

    /// One build, published as the next version; a publish drops the cached current version.
    async fn build(&self) -> Result<Published, Error> {
        let published = build(self.db(), self.settings()).await?;
        if matches!(published, Published::Version(_)) {
            self.core().writes.invalidate(&[Cached::Model]).await;
        }
        Ok(published)
    }

    /// One run of the job: a build, unless a version was published less than half a period
    /// ago (by another replica, or by RebuildModel).
    async fn scheduled_rebuild(&self, every: Duration) -> Result<(), Error> {
        if let Some(current) = store::model::current(self.db()).await? {
            let age = (chrono::Utc::now() - current.build_time)
                .to_std()
                .unwrap_or_default();
            if age < every / 2 {
                tracing::debug!(
                    version = current.version,
                    "model rebuild skipped, a recent version exists"
                );
                return Ok(());
            }
        }
        match self.build().await? {
            Published::Version(_) => {}
            Published::Lost(version) => {
                tracing::info!(
                    version,
                    "model rebuild skipped, another replica published it"
                );
            }
        }
        Ok(())
    }
}

/// Interactions recorded after the build of `info` (all before the first build).
async fn pending(db: &impl ConnectionTrait, info: Option<&ModelInfo>) -> Result<u64, Error> {
    store::rebuild::recorded_after(db, info.and_then(|i| i.last_interaction_time)).await
}

/// One build of the model on `db` with `settings`, published as the next version.
pub async fn build(
    db: &DatabaseConnection,
    settings: &RecommendationsSettings,
) -> Result<Published, Error> {
    Ok(build_measured(db, settings).await?.0)
}

/// How long each phase of a build took (the rebuild benchmark reports them).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Phases {
    /// Reading interactions, catalogue and profiles.
    pub read: Duration,
    /// Neighbours, rules, content fallback, popularity lists.
    pub compute: Duration,
    /// Writing the version's rows, publishing, pruning.
    pub write: Duration,
    /// Item rows and popularity lists written.
    pub item_rows: usize,
    pub lists: usize,
}

/// [`build`], with the time of each phase.
pub async fn build_measured(
    db: &DatabaseConnection,
    settings: &RecommendationsSettings,
) -> Result<(Published, Phases), Error> {
    let _turn = BUILDS.lock().await;
    let started = Instant::now();
    let mut phases = Phases::default();
    let now = crate::domain::now();
    let input = load::load(db, &settings.rebuild, now).await?;
    let last_record_time = input.last_record_time;
    phases.read = started.elapsed();
    let params = settings.model.clone();
    let built = tokio::task::spawn_blocking(move || compute::compute(input, &params))
        .await
        .map_err(Error::internal)?;
    phases.compute = started.elapsed() - phases.read;
    let version = store::model::next_version(db).await?;
    if !store::model::claim(db, version, &popular_entries(&built, 0)).await? {
        return Ok((Published::Lost(version), phases));
    }
    phases.item_rows = write_rows(db, version, &built).await?;
    phases.lists = built.popular.len();
    if store::model::current(db)
        .await?
        .is_some_and(|c| c.version >= version)
    {
        // A later build published while this one wrote: its rows are pruned as orphans.
        return Ok((Published::Lost(version), phases));
    }
    let info = ModelInfo {
        version,
        similarity: built.similarity,
        build_time: crate::domain::now(),
        build_duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        interaction_count: built.interaction_count as i64,
        customer_count: built.customer_count as i64,
        item_count: built.item_count as i64,
        last_interaction_time: last_record_time,
    };
    drop(built);
    if !store::model::publish(db, &info).await? {
        return Ok((Published::Lost(version), phases));
    }
    let pruned = store::model::prune(db, settings.rebuild.keep_versions).await?;
    phases.write = started.elapsed() - phases.read - phases.compute;
    tracing::info!(
        version,
        interactions = info.interaction_count,
        customers = info.customer_count,
        items = info.item_count,
        read_ms = phases.read.as_millis() as u64,
        compute_ms = phases.compute.as_millis() as u64,
        write_ms = phases.write.as_millis() as u64,
        pruned,
        "model published"
    );
    Ok((Published::Version(info), phases))
}

/// The entries of popularity list `n` of `built` as stored.
fn popular_entries(built: &Built, n: usize) -> Vec<Popular> {
    built.popular.get(n).map_or_else(Vec::new, |(_, list)| {
        list.iter()
            .map(|&(i, score)| Popular {
                item: built.items[i as usize].clone(),
                score,
            })
            .collect()
    })
}

/// Writes the item rows and the popularity lists (but the global one, the claim) of
/// `version`, a batch per statement, converting each batch only when it is written; the
/// number of item rows.
async fn write_rows(db: &DatabaseConnection, version: i64, built: &Built) -> Result<usize, Error> {
    let mut written = 0;
    let mut batch: Vec<(crate::domain::ItemId, ItemModel)> = Vec::with_capacity(ITEM_ROWS);
    for (i, id) in built.items.iter().enumerate() {
        let nb = built.neighbours.get(i).map_or(&[][..], Vec::as_slice);
        let rules = built.rules.get(i).map_or(&[][..], Vec::as_slice);
        if nb.is_empty() && rules.is_empty() {
            continue;
        }
        let name = |j: u32| built.items[j as usize].clone();
        batch.push((
            id.clone(),
            ItemModel {
                neighbours: nb
                    .iter()
                    .map(|s| Neighbour {
                        item: name(s.item),
                        score: s.score,
                        support: s.support,
                    })
                    .collect(),
                rules: rules
                    .iter()
                    .map(|r| Rule {
                        item: name(r.item),
                        support: r.support,
                        confidence: r.confidence,
                        lift: r.lift,
                        count: r.count,
                    })
                    .collect(),
            },
        ));
        if batch.len() == ITEM_ROWS {
            store::model::insert_item_models(db, version, &batch).await?;
            written += batch.len();
            batch.clear();
        }
    }
    store::model::insert_item_models(db, version, &batch).await?;
    written += batch.len();
    let mut lists: Vec<(Scope, Vec<Popular>)> = Vec::with_capacity(LIST_ROWS);
    for n in 1..built.popular.len() {
        lists.push((built.popular[n].0.clone(), popular_entries(built, n)));
        if lists.len() == LIST_ROWS {
            store::model::insert_popular(db, version, &lists).await?;
            lists.clear();
        }
    }
    store::model::insert_popular(db, version, &lists).await?;
    Ok(written)
}

/// The `rebuild` subcommand: connects, migrates when `database.migrate_on_start` says so,
/// builds and publishes one version, prints a line about it.
pub async fn run_once(settings: crate::Settings) -> anyhow::Result<()> {
    let database = &settings.platform.database;
    if database.migrate_on_start {
        crm_platform::db::migrate_service::<crate::migration::Migrator>(database, crate::SERVICE)
            .await?;
    }
    let db = crm_platform::db::connect(database, crate::SERVICE).await?;
    let mut tries = 0;
    let info = loop {
        match build(&db, &settings.recommendations).await {
            Ok(Published::Version(info)) => break info,
            Ok(Published::Lost(_)) if tries < CLAIM_TRIES => tries += 1,
            Ok(Published::Lost(v)) => anyhow::bail!("model version {v} taken by other builds"),
            Err(e) => anyhow::bail!("model build failed: {e}"),
        }
    };
    // Serving replicas cache the current version: drop it (through Redis when configured,
    // else it ages out of their in-process tier within `cache.local_ttl_ms`).
    let cache = crm_platform::cache::Cache::with_generation(
        &settings.platform.cache,
        crate::SERVICE,
        db.clone(),
    )?;
    Cached::Model.invalidate(&cache).await;
    db.close().await.ok();
    println!(
        "model version {} published: {} interactions, {} customers, {} items, {} similarity, {} ms",
        info.version,
        info.interaction_count,
        info.customer_count,
        info.item_count,
        info.similarity.as_str(),
        info.build_duration_ms
    );
    Ok(())
}
