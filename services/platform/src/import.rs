//! Bulk imports, the service side: one transaction per batch, every row under its own
//! idempotency key and in a savepoint of its own, so one bad row never aborts the good ones
//! and a re-sent row replays its first result instead of writing again.
//!
//! The stream side (batching, row keys, results) is [`crate::import_stream`].
use crate::error::{Error, ErrorCode, Violations};
use crate::idempotency::{self, Completion, IdempotencyKey};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Keys released (deleted) per statement.
const RELEASE_CHUNK: usize = 500;

/// Applying one row in its savepoint (boxed: it borrows the transaction only).
pub type RowFuture<'t, S> =
    std::pin::Pin<Box<dyn Future<Output = Result<Applied<S>, Error>> + Send + 't>>;

/// What applying one row did.
pub enum Applied<S> {
    /// Written: the resource's name and the result a re-sent row replays.
    Written { resource: String, stored: S },
    /// Refused (nothing of the row written): why, as "field: problem" lines.
    Refused(Vec<String>),
}

/// What became of one row of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Imported<S> {
    Written {
        stored: S,
        /// Written by an earlier call with the same key; `stored` is its first result.
        replayed: bool,
    },
    Failed(Vec<String>),
}

/// Writes one batch in one transaction on `db` and returns one outcome per row, in order. A
/// row whose key ran before replays its stored result; a new one is applied by `apply` in a
/// savepoint: a refusal (an error other than INTERNAL or UNAVAILABLE, or [`Applied::Refused`])
/// rolls back only that row and releases its key, so a re-send tries it again. An error here
/// (the database failed) means nothing of the batch was written.
pub async fn write_batch<R, S, F>(
    db: &DatabaseConnection,
    rows: Vec<(IdempotencyKey, R)>,
    mut apply: F,
) -> Result<Vec<Imported<S>>, Error>
where
    S: Serialize + DeserializeOwned,
    F: for<'t> FnMut(&'t DatabaseTransaction, R) -> RowFuture<'t, S>,
{
    let keys: Vec<IdempotencyKey> = rows.iter().map(|(k, _)| k.clone()).collect();
    let txn = db.begin().await?;
    let claims = idempotency::claim_many::<S>(&txn, &keys).await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut done = Vec::new();
    let mut released = Vec::new();
    for ((key, row), claim) in rows.into_iter().zip(claims) {
        let outcome = match claim {
            Ok(Some(first)) => Imported::Written {
                stored: first,
                replayed: true,
            },
            Err(e) => Imported::Failed(row_errors(e)),
            Ok(None) => match in_savepoint(&txn, row, &mut apply).await? {
                Applied::Written { resource, stored } => {
                    done.push(Completion::new(&key, &resource, &stored)?);
                    Imported::Written {
                        stored,
                        replayed: false,
                    }
                }
                // Not remembered: a re-send of a failed row tries it again.
                Applied::Refused(errors) => {
                    released.push(key.request_id.to_string());
                    Imported::Failed(errors)
                }
            },
        };
        out.push(outcome);
    }
    idempotency::complete_many(&txn, &done).await?;
    for chunk in released.chunks(RELEASE_CHUNK) {
        idempotency::Entity::delete_many()
            .filter(idempotency::Column::RequestId.is_in(chunk.to_vec()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(out)
}

/// Applies one row inside a savepoint of `txn`: kept when written, rolled back otherwise;
/// a database failure (INTERNAL, UNAVAILABLE) fails the batch.
async fn in_savepoint<R, S, F>(
    txn: &DatabaseTransaction,
    row: R,
    apply: &mut F,
) -> Result<Applied<S>, Error>
where
    F: for<'t> FnMut(&'t DatabaseTransaction, R) -> RowFuture<'t, S>,
{
    let sp = txn.begin().await?;
    match apply(&sp, row).await {
        Ok(written @ Applied::Written { .. }) => {
            sp.commit().await?;
            Ok(written)
        }
        Ok(refused) => {
            sp.rollback().await?;
            Ok(refused)
        }
        Err(e) if matches!(e.code, ErrorCode::Internal | ErrorCode::Unavailable) => {
            sp.rollback().await?;
            Err(e)
        }
        Err(e) => {
            sp.rollback().await?;
            Ok(Applied::Refused(row_errors(e)))
        }
    }
}

/// A row's failure as "field: problem" lines (the message when it names no field).
pub fn row_errors(e: Error) -> Vec<String> {
    if e.violations.is_empty() {
        vec![e.message]
    } else {
        violation_lines(&e.violations)
    }
}

/// Violations as "field: problem" lines.
pub fn violation_lines(v: &Violations) -> Vec<String> {
    v.iter()
        .map(|x| format!("{}: {}", x.field, x.description))
        .collect()
}
