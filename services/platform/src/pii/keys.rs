//! Loading a service's data keys: unwrap each with its key-encryption key (KEK), create the
//! missing ones, re-wrap old ones under the active KEK, retire the ones no row uses.
use super::cipher::{Keys, aead_key, open_with, random_bytes, seal_with};
use super::settings::{DEV_KEY_ID, KEY_BYTES, PiiSettings, dev_key};
use chrono::Utc;
use ring::aead::LessSafeKey;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use std::collections::HashMap;

pub mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pii_data_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub purpose: String,
        pub kek_id: String,
        pub wrapped: Vec<u8>,
        pub create_time: ChronoDateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

const DATA: &str = "data";
const INDEX: &str = "index";
/// The blind index key: one per service, never rotated by a KEK change (every index would
/// have to be recomputed), only re-wrapped.
const INDEX_KEY_ID: &str = "index";
/// Data keys a service may hold at once; a table that grew past it is a bug, not a load.
const MAX_DATA_KEYS: usize = 256;

/// Why the keys could not be loaded. `Keys` problems fail the start: serving would mean
/// refusing every read, or writing under a key nobody can open later.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Keys(String),
    #[error("pii data keys unavailable: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The id of the data key wrapped by KEK `kek`: one data key per KEK, so replicas starting
/// together agree on it (the second insert loses and reads the first's).
pub fn data_key_id(kek: &str) -> String {
    format!("data-{kek}")
}

fn wrap_aad(id: &str, purpose: &str) -> Vec<u8> {
    format!("pii_data_keys:{id}:{purpose}").into_bytes()
}

/// Every configured KEK, by id (the development key when none is configured).
fn keks(s: &PiiSettings) -> anyhow::Result<HashMap<String, LessSafeKey>> {
    let mut out = HashMap::new();
    if s.keys.is_empty() {
        out.insert(DEV_KEY_ID.to_owned(), aead_key(&dev_key(&s.dev_key_file)?)?);
    }
    for k in &s.keys {
        out.insert(k.id.clone(), aead_key(&k.load()?)?);
    }
    Ok(out)
}

pub async fn load(db: &impl ConnectionTrait, s: &PiiSettings) -> Result<Keys, LoadError> {
    let keks = keks(s)?;
    let active = s.active_id().to_owned();
    let active_kek = keks
        .get(&active)
        .ok_or_else(|| LoadError::Keys(format!("pii active key {active:?} is not configured")))?;
    let write_key = data_key_id(&active);
    // Every stored key must open before anything is written: a start refused for a missing
    // or wrong KEK leaves the table as it was, so the previous configuration still starts.
    let mut rows = stored(db).await?;
    unwrap_all(&rows, &keks)?;
    let wanted = [(INDEX_KEY_ID, INDEX), (write_key.as_str(), DATA)];
    if wanted
        .iter()
        .any(|(id, _)| !rows.iter().any(|r| r.id == *id))
    {
        for (id, purpose) in wanted {
            create_if_missing(db, id, purpose, &active, active_kek).await?;
        }
        // A replica starting at the same time may have won an insert: read what is stored.
        rows = stored(db).await?;
    }
    let mut data = HashMap::new();
    let mut index = None;
    for (row, bytes) in rows.iter().zip(unwrap_all(&rows, &keks)?) {
        if row.kek_id != active {
            rewrap(db, row, &bytes, &active, active_kek).await?;
        }
        match row.purpose.as_str() {
            INDEX => index = Some(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes)),
            _ => {
                data.insert(row.id.clone(), aead_key(&bytes)?);
            }
        }
    }
    let index = index.ok_or_else(|| LoadError::Keys("pii index key missing".into()))?;
    Ok(Keys {
        encrypt: s.encrypt,
        write_key,
        data,
        index,
    })
}

/// Every stored key row (bounded: a table that grew past [`MAX_DATA_KEYS`] is a bug).
async fn stored(db: &impl ConnectionTrait) -> Result<Vec<entity::Model>, LoadError> {
    let rows = entity::Entity::find().all(db).await?;
    if rows.len() > MAX_DATA_KEYS {
        return Err(LoadError::Keys(format!(
            "pii_data_keys has {} rows, at most {MAX_DATA_KEYS} expected",
            rows.len()
        )));
    }
    Ok(rows)
}

/// The key bytes of every row, in order, each unwrapped with its KEK; the first row no
/// configured KEK opens fails the load, naming key ids only.
fn unwrap_all(
    rows: &[entity::Model],
    keks: &HashMap<String, LessSafeKey>,
) -> Result<Vec<Vec<u8>>, LoadError> {
    rows.iter()
        .map(|row| {
            let kek = keks.get(&row.kek_id).ok_or_else(|| {
                LoadError::Keys(format!(
                    "pii data key {:?} is wrapped by key-encryption key {:?}, which is not configured: \
                     add it back to [[pii.keys]] (it may be removed once this service has started with \
                     the new active key once)",
                    row.id, row.kek_id
                ))
            })?;
            open_with(kek, &wrap_aad(&row.id, &row.purpose), &row.wrapped)
                .filter(|b| b.len() == KEY_BYTES)
                .ok_or_else(|| {
                    LoadError::Keys(format!(
                        "pii key-encryption key {:?} does not open data key {:?}: wrong key for this database",
                        row.kek_id, row.id
                    ))
                })
        })
        .collect()
}

/// Inserts a new random key `id` wrapped by `kek` unless a row `id` exists (a concurrent
/// replica's insert wins; both then read the same row).
async fn create_if_missing(
    db: &impl ConnectionTrait,
    id: &str,
    purpose: &str,
    kek_id: &str,
    kek: &LessSafeKey,
) -> Result<(), LoadError> {
    if entity::Entity::find_by_id(id).one(db).await?.is_some() {
        return Ok(());
    }
    let key: [u8; KEY_BYTES] = random_bytes()?;
    let row = entity::ActiveModel {
        id: Set(id.to_owned()),
        purpose: Set(purpose.to_owned()),
        kek_id: Set(kek_id.to_owned()),
        wrapped: Set(seal_with(kek, &wrap_aad(id, purpose), &key)?),
        create_time: Set(Utc::now()),
    };
    let inserted = entity::Entity::insert(row)
        .on_conflict(
            OnConflict::column(entity::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted > 0 {
        tracing::info!(key = id, purpose, kek = kek_id, "pii data key created");
    }
    Ok(())
}

/// Re-wraps a data key under the active KEK, so the old KEK is no longer needed (the key
/// itself, and every row under it, stays as it is until the re-encryption job moves them).
async fn rewrap(
    db: &impl ConnectionTrait,
    row: &entity::Model,
    key: &[u8],
    active: &str,
    kek: &LessSafeKey,
) -> Result<(), LoadError> {
    let wrapped = seal_with(kek, &wrap_aad(&row.id, &row.purpose), key)?;
    entity::Entity::update_many()
        .col_expr(
            entity::Column::Wrapped,
            sea_orm::sea_query::Expr::value(wrapped),
        )
        .col_expr(
            entity::Column::KekId,
            sea_orm::sea_query::Expr::value(active),
        )
        .filter(entity::Column::Id.eq(row.id.as_str()))
        .filter(entity::Column::KekId.eq(row.kek_id.as_str()))
        .exec(db)
        .await?;
    tracing::info!(key = %row.id, from = %row.kek_id, to = active, "pii data key re-wrapped");
    Ok(())
}

/// Deletes data keys other than `write_key` that no row references any more, once the write
/// key is `grace` old.
pub async fn retire_unused(
    db: &impl ConnectionTrait,
    write_key: &str,
    in_use: &[String],
    grace: std::time::Duration,
) -> Result<Vec<String>, sea_orm::DbErr> {
    let rows = entity::Entity::find()
        .filter(entity::Column::Purpose.eq(DATA))
        .all(db)
        .await?;
    let settled = rows.iter().any(|r| {
        r.id == write_key
            && Utc::now().signed_duration_since(r.create_time)
                >= chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX)
    });
    if !settled {
        return Ok(Vec::new());
    }
    let unused: Vec<String> = rows
        .into_iter()
        .map(|r| r.id)
        .filter(|id| id != write_key && !in_use.contains(id))
        .collect();
    if !unused.is_empty() {
        entity::Entity::delete_many()
            .filter(entity::Column::Id.is_in(unused.clone()))
            .exec(db)
            .await?;
        for id in &unused {
            tracing::info!(key = %id, "pii data key retired: no row uses it");
        }
    }
    Ok(unused)
}
