//! Database connections (PostgreSQL or SQLite, chosen by the URL) and migrations.
use crate::config::{DatabaseSettings, redact_url};
use crate::gate::{DATABASE_UNAVAILABLE, SCHEMA_NOT_READY};
use crate::jobs::Jobs;
use crate::server::{NotReady, Readiness};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

/// The URL for `service`: `{service}` in the configured URL becomes the service name, and a
/// SQLite file gets its directory created and `mode=rwc` so it is created on first use.
pub fn url_for(settings: &DatabaseSettings, service: &str) -> anyhow::Result<String> {
    let url = settings.url.expose().replace("{service}", service);
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let file = path.split('?').next().unwrap_or_default();
        if !file.is_empty() && file != ":memory:" {
            if let Some(dir) = std::path::Path::new(file)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)?;
            }
            if !path.contains("mode=") {
                let sep = if path.contains('?') { '&' } else { '?' };
                return Ok(format!("sqlite://{path}{sep}mode=rwc"));
            }
        }
    }
    Ok(url)
}

/// A pool for `service`. It connects lazily, so this never waits for the database (a
/// service starts, NOT_SERVING, while its database is away). Every connection gets the
/// timeouts of `settings`: PostgreSQL `statement_timeout`; on SQLite the busy timeout, WAL,
/// foreign keys and `secure_delete` (erased rows are overwritten in the file, not just
/// unlinked), set per connection so a reconnect keeps them.
pub async fn connect(
    settings: &DatabaseSettings,
    service: &str,
) -> anyhow::Result<DatabaseConnection> {
    let url = url_for(settings, service)?;
    let sqlite = url.starts_with("sqlite:");
    let mut opt = ConnectOptions::new(url.clone());
    // SQLite allows one writer; one connection turns "database is locked" races into a
    // queue. Reads on SQLite take microseconds, so the queue is short.
    let max = if sqlite { 1 } else { settings.max_connections };
    let statement_timeout = Duration::from_millis(settings.statement_timeout_ms);
    opt.max_connections(max)
        .min_connections(settings.min_connections.min(max))
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .connect_lazy(true)
        .sqlx_logging(false);
    if sqlite {
        opt.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(statement_timeout)
                .pragma("secure_delete", "ON")
        });
    } else {
        opt.statement_timeout(statement_timeout);
    }
    let db = Database::connect(opt).await?;
    tracing::info!(url = %redact_url(&url), max_connections = max, "database pool created");
    Ok(db)
}

pub fn backend(db: &DatabaseConnection) -> DbBackend {
    db.get_database_backend()
}

/// Applies every pending migration of `M`.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> anyhow::Result<()> {
    let pending = M::get_pending_migrations(db).await?.len();
    M::up(db, None).await?;
    tracing::info!(applied = pending, "migrations up to date");
    Ok(())
}

/// Longest wait between two start-up migration attempts.
const MIGRATE_RETRY_MAX: Duration = Duration::from_secs(30);

/// Start-up migration (when `migrate_on_start`): tried once now; if the database does not
/// answer, the service still starts (NOT_SERVING) and a task in `jobs` retries with backoff
/// (1 s, 2 s, ... 30 s) until it succeeds, logging why each attempt failed.
pub async fn migrate_on_start<M: MigratorTrait>(
    db: &DatabaseConnection,
    settings: &DatabaseSettings,
    jobs: &mut Jobs,
) {
    if !settings.migrate_on_start {
        return;
    }
    let Err(e) = migrate::<M>(db).await else {
        return;
    };
    tracing::warn!(error = %format!("{e:#}"), "cannot migrate at start; serving NOT_SERVING and retrying in the background");
    let db = db.clone();
    jobs.spawn(async move {
        let mut delay = Duration::from_secs(1);
        loop {
            tokio::time::sleep(delay).await;
            match migrate::<M>(&db).await {
                Ok(()) => return,
                Err(e) => {
                    delay = (delay * 2).min(MIGRATE_RETRY_MAX);
                    tracing::warn!(error = %format!("{e:#}"), retry_ms = delay.as_millis() as u64, "start-up migration failed; retrying");
                }
            }
        }
    });
}

/// Ready when the database answers within the readiness timeout and every migration of `M`
/// is recorded as applied. A plain read of the migrations table: no DDL (sea-orm's
/// `get_pending_migrations` runs `CREATE TABLE IF NOT EXISTS` as the serving role).
pub struct SchemaReadiness<M> {
    db: DatabaseConnection,
    timeout: Duration,
    _m: PhantomData<fn() -> M>,
}

impl<M> SchemaReadiness<M> {
    pub fn new(db: DatabaseConnection, settings: &DatabaseSettings) -> Self {
        Self {
            db,
            timeout: Duration::from_millis(settings.ready_timeout_ms),
            _m: PhantomData,
        }
    }
}

/// The migrations of `M` not recorded in its table (a read error when there is no table).
pub async fn pending_migrations<M: MigratorTrait>(
    db: &DatabaseConnection,
) -> Result<Vec<String>, sea_orm::DbErr> {
    use sea_orm_migration::sea_query::{Alias, Query};
    let select = Query::select()
        .column(Alias::new("version"))
        .from(M::migration_table_name())
        .to_owned();
    let rows = db.query_all(&select).await?;
    let applied: std::collections::HashSet<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<String>("", "version").ok())
        .collect();
    Ok(M::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .filter(|n| !applied.contains(n))
        .collect())
}

/// True when `e` says the database could not be reached (as opposed to a failed statement).
pub fn is_unreachable(e: &sea_orm::DbErr) -> bool {
    matches!(
        e,
        sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_)
    )
}

impl<M: MigratorTrait + 'static> Readiness for SchemaReadiness<M> {
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), NotReady>> + Send + '_>> {
        Box::pin(async move {
            let unavailable = |detail: String| NotReady {
                reason: DATABASE_UNAVAILABLE,
                detail,
            };
            match tokio::time::timeout(self.timeout, pending_migrations::<M>(&self.db)).await {
                Err(_) => Err(unavailable(format!(
                    "no answer within {} ms",
                    self.timeout.as_millis()
                ))),
                Ok(Err(e)) if is_unreachable(&e) => Err(unavailable(e.to_string())),
                Ok(Err(e)) => Err(NotReady {
                    reason: SCHEMA_NOT_READY,
                    detail: format!("cannot read the migrations table ({e}); run `migrate`"),
                }),
                Ok(Ok(pending)) if pending.is_empty() => Ok(()),
                Ok(Ok(pending)) => Err(NotReady {
                    reason: SCHEMA_NOT_READY,
                    detail: format!("{} migrations pending; run `migrate`", pending.len()),
                }),
            }
        })
    }
}

/// True for a unique-constraint violation (both backends).
pub fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// A migration's index on `cols` of `table`, named `name`.
pub fn index(
    name: &str,
    table: impl sea_orm_migration::prelude::IntoIden,
    cols: Vec<sea_orm_migration::prelude::DynIden>,
) -> sea_orm_migration::prelude::IndexCreateStatement {
    let mut i = sea_orm_migration::prelude::Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(c);
    }
    i.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn settings(url: &str) -> DatabaseSettings {
        DatabaseSettings {
            url: Secret::new(url),
            migrate_on_start: true,
            max_connections: 4,
            min_connections: 1,
            connect_timeout_ms: 1000,
            acquire_timeout_ms: 1000,
            statement_timeout_ms: 10_000,
            ready_timeout_ms: 1000,
        }
    }

    #[test]
    fn service_placeholder_and_sqlite_mode() {
        let dir = std::env::temp_dir().join(format!("crm-db-{}", uuid::Uuid::new_v4()));
        let url = url_for(
            &settings(&format!("sqlite://{}/{{service}}.sqlite", dir.display())),
            "customers",
        )
        .expect("url");
        assert_eq!(
            url,
            format!("sqlite://{}/customers.sqlite?mode=rwc", dir.display())
        );
        assert!(dir.exists());
        std::fs::remove_dir_all(dir).ok();
        assert_eq!(
            url_for(&settings("postgres://u@h/{service}"), "loyalty").expect("url"),
            "postgres://u@h/loyalty"
        );
    }
}
