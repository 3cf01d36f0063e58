//! Idempotent mutations. Each service keeps an `idempotency_keys` table (migration below).
//! A mutation claims its `request_id` first thing in its transaction, so a concurrent retry
//! waits on the claim and then replays the stored response instead of racing the write:
//!
//! ```text
//! let txn = match begin(db, key)? { Replay(previous) => return previous, Fresh(txn) => txn };
//! ... the mutation on txn ...
//! commit(txn, key, resource, &response)?;
//! ```
//! The same request id with another payload is ALREADY_EXISTS / IDEMPOTENCY_KEY_REUSED.
use crate::error::{Error, ErrorCode};
use crate::ids::RequestId;
use sea_orm::entity::prelude::*;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DatabaseTransaction, TransactionTrait,
};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, text, timestamp_with_time_zone};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Reason of the retryable error raised when two calls with one request id race.
pub const RACE: &str = "IDEMPOTENCY_RACE";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    pub method: String,
    pub fingerprint: String,
    /// The resource the mutation touched, so an erasure can drop stored responses about it.
    pub resource: String,
    /// The response as JSON; empty while the claiming transaction is still open.
    #[sea_orm(column_type = "Text")]
    pub response: String,
    pub create_time: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What identifies one logical mutation.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub request_id: RequestId,
    pub method: &'static str,
    /// Hash of the request payload without its request id.
    pub fingerprint: String,
}

impl IdempotencyKey {
    /// `payload` is the encoded request with its request id cleared.
    pub fn new(request_id: RequestId, method: &'static str, payload: &[u8]) -> Self {
        let digest = Sha256::digest(payload);
        Self {
            request_id,
            method,
            fingerprint: digest.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// Claims the key inside `txn`. `Some(response)` means this request already ran: replay it.
///
/// One statement in the common case: the insert either claims the key or, when a
/// concurrent call holds it, waits for that call's transaction and then reads its result.
/// ([`claim_many`] answers once per key, so the default is never taken.)
pub async fn claim<T: DeserializeOwned>(
    txn: &impl ConnectionTrait,
    key: &IdempotencyKey,
) -> Result<Option<T>, Error> {
    claim_many(txn, std::slice::from_ref(key))
        .await?
        .pop()
        .unwrap_or(Ok(None))
}

/// Claims many keys inside `txn` with one insert (and one read for those taken already).
/// Per key, in order: `Ok(None)` claimed, `Ok(Some(response))` replay, `Err` refused (the
/// id was used for another request, or is claimed but unfinished in this transaction).
pub async fn claim_many<T: DeserializeOwned>(
    txn: &impl ConnectionTrait,
    keys: &[IdempotencyKey],
) -> Result<Vec<Result<Option<T>, Error>>, Error> {
    let now = chrono::Utc::now();
    let mut claimed = std::collections::HashSet::new();
    for chunk in keys.chunks(500) {
        let rows = chunk.iter().map(|k| ActiveModel {
            request_id: Set(k.request_id.to_string()),
            method: Set(k.method.to_owned()),
            fingerprint: Set(k.fingerprint.clone()),
            resource: Set(String::new()),
            response: Set(String::new()),
            create_time: Set(now),
        });
        if let sea_orm::TryInsertResult::Inserted(ids) = Entity::insert_many(rows)
            .on_conflict_do_nothing()
            .exec_with_returning_keys(txn)
            .await?
        {
            claimed.extend(ids);
        }
    }
    let taken: Vec<String> = keys
        .iter()
        .map(|k| k.request_id.to_string())
        .filter(|id| !claimed.contains(id))
        .collect();
    let mut earlier = std::collections::HashMap::new();
    for chunk in taken.chunks(500) {
        for row in Entity::find()
            .filter(Column::RequestId.is_in(chunk.to_vec()))
            .all(txn)
            .await?
        {
            earlier.insert(row.request_id.clone(), row);
        }
    }
    Ok(keys
        .iter()
        .map(|k| {
            let id = k.request_id.to_string();
            if claimed.contains(&id) {
                return Ok(None);
            }
            replay_of(k, earlier.get(&id)).map(Some)
        })
        .collect())
}

/// The response of an earlier identical call that has finished, read outside any
/// transaction. A mutation that asks other services before it begins uses it, so a retry
/// replays instead of asking again; [`begin`] / [`claim`] still decide authoritatively (a
/// reused id or an unfinished claim reads as `None` here and is reported there).
pub async fn stored<T: DeserializeOwned>(
    conn: &impl ConnectionTrait,
    key: &IdempotencyKey,
) -> Result<Option<T>, Error> {
    let row = Entity::find_by_id(key.request_id.to_string())
        .one(conn)
        .await?;
    match row {
        Some(r)
            if r.method == key.method
                && r.fingerprint == key.fingerprint
                && !r.response.is_empty() =>
        {
            serde_json::from_str(&r.response)
                .map(Some)
                .map_err(Error::internal)
        }
        _ => Ok(None),
    }
}

/// The stored response of an earlier call with `key`'s id, if it is the same request.
fn replay_of<T: DeserializeOwned>(key: &IdempotencyKey, row: Option<&Model>) -> Result<T, Error> {
    let Some(row) = row.filter(|r| !r.response.is_empty()) else {
        // Gone (purged) or claimed but unfinished in this very transaction: try again.
        return Err(Error::new(
            ErrorCode::Aborted,
            RACE,
            "concurrent request with the same request_id; retry",
        ));
    };
    if row.method != key.method || row.fingerprint != key.fingerprint {
        return Err(Error::new(
            ErrorCode::AlreadyExists,
            "IDEMPOTENCY_KEY_REUSED",
            "this request_id was already used for a different request; use a new request_id",
        )
        .with_metadata("request_id", row.request_id.clone()));
    }
    serde_json::from_str(&row.response).map_err(Error::internal)
}

/// Stores the response of a claimed key (same transaction as the mutation).
pub async fn complete<T: Serialize>(
    txn: &impl ConnectionTrait,
    key: &IdempotencyKey,
    resource: &str,
    response: &T,
) -> Result<(), Error> {
    let json = serde_json::to_string(response).map_err(Error::internal)?;
    Entity::update_many()
        .col_expr(Column::Response, Expr::value(json))
        .col_expr(Column::Resource, Expr::value(resource.to_owned()))
        .filter(Column::RequestId.eq(key.request_id.to_string()))
        .exec(txn)
        .await?;
    Ok(())
}

/// A claimed key's response, for [`complete_many`].
#[derive(Debug, Clone)]
pub struct Completion {
    pub key: IdempotencyKey,
    pub resource: String,
    pub response: String,
}

impl Completion {
    pub fn new<T: Serialize>(
        key: &IdempotencyKey,
        resource: &str,
        response: &T,
    ) -> Result<Self, Error> {
        Ok(Self {
            key: key.clone(),
            resource: resource.to_owned(),
            response: serde_json::to_string(response).map_err(Error::internal)?,
        })
    }
}

/// Stores many claimed keys' responses in one statement (same transaction as the claims).
pub async fn complete_many(txn: &impl ConnectionTrait, done: &[Completion]) -> Result<(), Error> {
    let now = chrono::Utc::now();
    for chunk in done.chunks(500) {
        Entity::insert_many(chunk.iter().map(|c| ActiveModel {
            request_id: Set(c.key.request_id.to_string()),
            method: Set(c.key.method.to_owned()),
            fingerprint: Set(c.key.fingerprint.clone()),
            resource: Set(c.resource.clone()),
            response: Set(c.response.clone()),
            create_time: Set(now),
        }))
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(Column::RequestId)
                .update_columns([Column::Resource, Column::Response])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// The outcome of [`begin`]: the stored response of an earlier identical call, or an open
/// transaction that owns the claim.
pub enum Begun<T> {
    Replay(T),
    Fresh(DatabaseTransaction),
}

/// Opens the mutation's transaction (a savepoint when `db` is a transaction already) and
/// claims `key` in it. When a concurrent call with the
/// same id wins the claim, this waits for it and replays its response.
pub async fn begin<T: DeserializeOwned>(
    db: &impl TransactionTrait<Transaction = DatabaseTransaction>,
    key: &IdempotencyKey,
) -> Result<Begun<T>, Error> {
    let mut lost_race = false;
    loop {
        let txn = db.begin().await?;
        match claim::<T>(&txn, key).await {
            Ok(Some(previous)) => return Ok(Begun::Replay(previous)),
            Ok(None) => return Ok(Begun::Fresh(txn)),
            // The winner has committed by now (our insert waited for it): read its response.
            Err(e) if e.reason == RACE && !lost_race => lost_race = true,
            Err(e) => return Err(e),
        }
    }
}

/// Stores the response and commits the mutation.
pub async fn commit<T: Serialize>(
    txn: DatabaseTransaction,
    key: &IdempotencyKey,
    resource: &str,
    response: &T,
) -> Result<(), Error> {
    complete(&txn, key, resource, response).await?;
    txn.commit().await?;
    Ok(())
}

/// Drops stored responses about `resource` (data-protection erasure).
pub async fn forget_resource(txn: &impl ConnectionTrait, resource: &str) -> Result<u64, Error> {
    Ok(Entity::delete_many()
        .filter(Column::Resource.eq(resource))
        .exec(txn)
        .await?
        .rows_affected)
}

/// Most hours a service may keep idempotency records (`idempotency_retention_hours`).
pub const MAX_RETENTION_HOURS: u64 = 24 * 365;

/// The configured `idempotency_retention_hours` as a duration (saturating, never panics).
pub fn retention(hours: u64) -> std::time::Duration {
    std::time::Duration::from_secs(hours.saturating_mul(3600))
}

/// Config problem of `section.idempotency_retention_hours`, if any.
pub fn validate_retention(section: &str, hours: u64, p: &mut Vec<String>) {
    if hours > MAX_RETENTION_HOURS {
        p.push(format!(
            "{section}.idempotency_retention_hours: must be at most a year"
        ));
    }
}

/// Drops keys older than `max_age`; a retry after that is treated as a new request.
pub async fn purge_older_than(
    db: &DatabaseConnection,
    max_age: std::time::Duration,
) -> Result<u64, Error> {
    let cutoff =
        chrono::Utc::now() - chrono::Duration::from_std(max_age).map_err(Error::internal)?;
    Ok(Entity::delete_many()
        .filter(Column::CreateTime.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    RequestId,
    Method,
    Fingerprint,
    Resource,
    Response,
    CreateTime,
}

/// The `idempotency_keys` table; every service lists it first in its migrator.
pub struct CreateIdempotencyKeys;

impl MigrationName for CreateIdempotencyKeys {
    fn name(&self) -> &str {
        "m20261123_000000_create_idempotency_keys"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateIdempotencyKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .if_not_exists()
                    .col(string(IdempotencyKeys::RequestId).primary_key())
                    .col(string(IdempotencyKeys::Method))
                    .col(string(IdempotencyKeys::Fingerprint))
                    .col(string(IdempotencyKeys::Resource))
                    .col(text(IdempotencyKeys::Response))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreateTime))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_idempotency_resource", IdempotencyKeys::Resource),
            ("idx_idempotency_time", IdempotencyKeys::CreateTime),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(IdempotencyKeys::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}
