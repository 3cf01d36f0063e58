//! Database connections (PostgreSQL or SQLite, chosen by the URL) and migrations.
use crate::config::{DatabaseSettings, redact_url};
use crate::gate::{DATABASE_UNAVAILABLE, SCHEMA_NOT_READY};
use crate::jobs::Jobs;
use crate::server::{NotReady, Readiness};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, TransactionTrait as _,
};
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
    pool(settings, service, true).await
}

/// A lazy pool; `bounded`: with the statement timeout (migrations run without one, since
/// building an index on a large table may take longer).
async fn pool(
    settings: &DatabaseSettings,
    service: &str,
    bounded: bool,
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
        .idle_timeout(Duration::from_millis(settings.idle_timeout_ms))
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
    } else if bounded {
        opt.statement_timeout(statement_timeout);
    }
    let db = Database::connect(opt).await?;
    if bounded {
        tracing::info!(url = %redact_url(&url), max_connections = max, "database pool created");
    }
    Ok(db)
}

pub fn backend(db: &DatabaseConnection) -> DbBackend {
    db.get_database_backend()
}

/// Applies every pending migration of `M` to the database of `service`, over a connection of
/// its own without the statement timeout (the `migrate` subcommand and start-up migration).
pub async fn migrate_service<M: MigratorTrait>(
    settings: &DatabaseSettings,
    service: &str,
) -> anyhow::Result<()> {
    let db = pool(settings, service, false).await?;
    let out = migrate::<M>(&db).await;
    db.close().await.ok();
    out
}

/// Applies every pending migration of `M` on `db`.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> anyhow::Result<()> {
    let pending = M::get_pending_migrations(db).await?.len();
    M::up(db, None).await?;
    tracing::info!(applied = pending, "migrations up to date");
    Ok(())
}

/// Start-up migration (when `migrate_on_start`): tried once now; if the database does not
/// answer, the service still starts (NOT_SERVING) and a task in `jobs` retries with backoff
/// (1 s, 2 s, ... 30 s) until it succeeds, logging why each attempt failed.
pub async fn migrate_on_start<M: MigratorTrait>(
    settings: &DatabaseSettings,
    service: &str,
    jobs: &mut Jobs,
) {
    if !settings.migrate_on_start {
        return;
    }
    let Err(e) = migrate_service::<M>(settings, service).await else {
        return;
    };
    tracing::warn!(error = %format!("{e:#}"), "cannot migrate at start; serving NOT_SERVING and retrying in the background");
    let state = std::sync::Arc::new((settings.clone(), service.to_owned()));
    // The attempt above just failed: the next one in a second.
    jobs.until_done(
        Duration::from_secs(1),
        "start-up migration",
        state,
        |state| async move {
            let (settings, service) = &*state;
            migrate_service::<M>(settings, service)
                .await
                .map_err(crate::Error::internal)
        },
    );
}

/// Ready when the database answers within the readiness timeout and every migration of `M`
/// is recorded as applied. A plain read of the migrations table: no DDL (sea-orm's
/// `get_pending_migrations` runs `CREATE TABLE IF NOT EXISTS` as the serving role).
///
/// Waiting for a pooled connection is not the database being away: every connection may be
/// busy with a long write (SQLite's only one, under a bulk import), and a service that then
/// refused all calls would let one caller's work fail everybody else's. So when every
/// connection is in use the check waits up to the pool's acquire timeout for one; otherwise
/// (an idle connection that does not answer: a partition) the readiness timeout applies.
pub struct SchemaReadiness<M> {
    db: DatabaseConnection,
    acquire: Duration,
    timeout: Duration,
    _m: PhantomData<fn() -> M>,
}

impl<M> SchemaReadiness<M> {
    pub fn new(db: DatabaseConnection, settings: &DatabaseSettings) -> Self {
        Self {
            db,
            acquire: Duration::from_millis(settings.acquire_timeout_ms),
            timeout: Duration::from_millis(settings.ready_timeout_ms),
            _m: PhantomData,
        }
    }
}

/// Whether every connection of the pool is in use (a caller waits for one to come back),
/// rather than one idle or not opened yet.
fn pool_exhausted(db: &DatabaseConnection) -> bool {
    fn full<D: sea_orm::sqlx::Database>(p: &sea_orm::sqlx::Pool<D>) -> bool {
        p.num_idle() == 0 && p.size() >= p.options().get_max_connections()
    }
    match db.get_database_backend() {
        DbBackend::Postgres => full(db.get_postgres_connection_pool()),
        DbBackend::Sqlite => full(db.get_sqlite_connection_pool()),
        _ => false,
    }
}

/// The migrations of `M` not recorded in its table (a read error when there is no table).
pub async fn pending_migrations<M: MigratorTrait>(
    db: &impl ConnectionTrait,
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

/// True when `e` says the database could not be reached or the connection broke (as opposed
/// to a statement the database refused).
pub fn is_unreachable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(s)) | DbErr::Exec(RuntimeErr::SqlxError(s)) => {
            matches!(
                **s,
                Sqlx::Io(_)
                    | Sqlx::Tls(_)
                    | Sqlx::Protocol(_)
                    | Sqlx::PoolTimedOut
                    | Sqlx::PoolClosed
                    | Sqlx::WorkerCrashed
            )
        }
        _ => false,
    }
}

impl<M: MigratorTrait + 'static> Readiness for SchemaReadiness<M> {
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), NotReady>> + Send + '_>> {
        Box::pin(async move {
            let unavailable = |detail: String| NotReady {
                reason: DATABASE_UNAVAILABLE,
                detail,
            };
            // A connection of its own for the read. With one idle (or room to open one), it
            // must answer within the readiness timeout; with every one in use, the check
            // waits its turn as the pool's callers do (the slack lets the pool's own timeout
            // answer first).
            let wait = if pool_exhausted(&self.db) {
                self.acquire + self.timeout
            } else {
                self.timeout
            };
            let txn = match tokio::time::timeout(wait, self.db.begin()).await {
                Ok(Ok(txn)) => txn,
                Ok(Err(e)) => return Err(unavailable(e.to_string())),
                Err(_) => {
                    return Err(unavailable(format!(
                        "no connection within {} ms",
                        wait.as_millis()
                    )));
                }
            };
            // Dropping the transaction rolls back its read-only work.
            match tokio::time::timeout(self.timeout, pending_migrations::<M>(&txn)).await {
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

/// A migration's index on `cols` of `table`, named `name`, all given as plain names.
pub fn index_named(
    name: &str,
    table: &str,
    cols: &[&str],
) -> sea_orm_migration::prelude::IndexCreateStatement {
    use sea_orm_migration::prelude::{Alias, IntoIden};
    index(
        name,
        Alias::new(table),
        cols.iter().map(|c| Alias::new(*c).into_iden()).collect(),
    )
}

/// A migration's drop of the index `name` on `table`.
pub fn drop_index(name: &str, table: &str) -> sea_orm_migration::prelude::IndexDropStatement {
    use sea_orm_migration::prelude::{Alias, Index};
    Index::drop().name(name).table(Alias::new(table)).to_owned()
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
            idle_timeout_ms: 60_000,
            statement_timeout_ms: 10_000,
            ready_timeout_ms: 1000,
        }
    }

    struct TestMigrator;

    impl MigratorTrait for TestMigrator {
        fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
            vec![Box::new(crate::idempotency::CreateIdempotencyKeys)]
        }
    }

    async fn table_exists(db: &DatabaseConnection, table: &str) -> bool {
        let sql = match backend(db) {
            DbBackend::Sqlite => {
                format!("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
            }
            _ => format!(
                "SELECT table_name FROM information_schema.tables WHERE table_name = '{table}'"
            ),
        };
        !db.query_all_raw(sea_orm::Statement::from_string(backend(db), sql))
            .await
            .expect("catalog")
            .is_empty()
    }

    #[test]
    fn named_index_statements_spell_the_given_names() {
        use sea_orm_migration::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
        let create = index_named("idx_t_a_b", "t", &["a", "b"]);
        assert_eq!(
            create.to_string(SqliteQueryBuilder),
            r#"CREATE INDEX "idx_t_a_b" ON "t" ("a", "b")"#
        );
        assert_eq!(
            create.to_string(PostgresQueryBuilder),
            r#"CREATE INDEX "idx_t_a_b" ON "t" ("a", "b")"#
        );
        assert_eq!(
            drop_index("idx_t_a_b", "t").to_string(SqliteQueryBuilder),
            r#"DROP INDEX "idx_t_a_b""#
        );
    }

    #[tokio::test]
    async fn readiness_reads_the_schema_state_without_ddl() {
        crate::testing::each_backend(|b| async move {
            let s = settings(&crate::testing::fresh_database_url(b).await);
            let db = connect(&s, "svc").await.expect("pool");
            let ready = SchemaReadiness::<TestMigrator>::new(db.clone(), &s);
            let err = ready.check().await.expect_err("not migrated");
            assert_eq!(err.reason, SCHEMA_NOT_READY, "{err:?}");
            // sea-orm's get_pending_migrations would have created it, as the serving role.
            assert!(
                !table_exists(&db, "seaql_migrations").await,
                "readiness ran DDL"
            );
            migrate::<TestMigrator>(&db).await.expect("migrate");
            assert_eq!(ready.check().await, Ok(()));
        })
        .await;
    }

    #[tokio::test]
    async fn sqlite_connections_get_timeouts_foreign_keys_and_secure_delete() {
        let dir = std::env::temp_dir().join(format!("crm-db-{}", uuid::Uuid::new_v4()));
        let file = dir.join("svc.sqlite");
        let s = settings(&format!("sqlite://{}", file.display()));
        let db = connect(&s, "svc").await.expect("pool");
        let pragma = |name: &'static str| {
            let db = db.clone();
            async move {
                let row = db
                    .query_one_raw(sea_orm::Statement::from_string(
                        DbBackend::Sqlite,
                        format!("PRAGMA {name}"),
                    ))
                    .await
                    .expect("pragma")
                    .expect("row");
                row.try_get_by_index::<i64>(0).expect("value")
            }
        };
        assert_eq!(pragma("secure_delete").await, 1);
        assert_eq!(pragma("foreign_keys").await, 1);
        assert_eq!(pragma("busy_timeout").await, 10_000);
        // Erased data does not survive in the file.
        let secret = "erase-me-7f3a9c1e5b";
        db.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .await
            .expect("create");
        for i in 0..50 {
            db.execute_unprepared(&format!("INSERT INTO t (v) VALUES ('{secret}-{i}')"))
                .await
                .expect("insert");
        }
        db.execute_unprepared("DELETE FROM t")
            .await
            .expect("delete");
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .expect("checkpoint");
        db.close().await.expect("close");
        let mut bytes = std::fs::read(&file).expect("read file");
        if let Ok(wal) = std::fs::read(dir.join("svc.sqlite-wal")) {
            bytes.extend(wal);
        }
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a deleted value is still in the database file"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    /// The test PostgreSQL, if configured.
    async fn postgres() -> Option<String> {
        if !crate::testing::backends().contains(&crate::testing::Backend::Postgres) {
            return None;
        }
        Some(crate::testing::fresh_database_url(crate::testing::Backend::Postgres).await)
    }

    #[tokio::test]
    async fn postgres_statements_are_bounded_by_statement_timeout() {
        let Some(url) = postgres().await else { return };
        let mut s = settings(&url);
        s.statement_timeout_ms = 200;
        let db = connect(&s, "svc").await.expect("pool");
        let started = std::time::Instant::now();
        let err = db
            .execute_unprepared("SELECT pg_sleep(5)")
            .await
            .expect_err("cancelled by the server");
        assert!(err.to_string().contains("statement timeout"), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let mapped = crate::Error::from(err);
        assert_eq!(
            (mapped.code, mapped.reason.as_ref()),
            (crate::ErrorCode::Unavailable, "DATABASE_TIMEOUT")
        );
    }

    /// A migration slower than the statement timeout of the serving pool.
    struct SlowMigration;

    impl sea_orm_migration::MigrationName for SlowMigration {
        fn name(&self) -> &str {
            "m20261201_000001_slow"
        }
    }

    #[sea_orm_migration::async_trait::async_trait]
    impl sea_orm_migration::MigrationTrait for SlowMigration {
        async fn up(
            &self,
            manager: &sea_orm_migration::SchemaManager,
        ) -> Result<(), sea_orm::DbErr> {
            manager
                .get_connection()
                .execute_unprepared("SELECT pg_sleep(0.5)")
                .await
                .map(|_| ())
        }
    }

    struct SlowMigrator;

    impl MigratorTrait for SlowMigrator {
        fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
            vec![Box::new(SlowMigration)]
        }
    }

    #[tokio::test]
    async fn migrations_are_not_cut_by_the_statement_timeout() {
        let Some(url) = postgres().await else { return };
        let mut s = settings(&url);
        s.statement_timeout_ms = 100;
        migrate_service::<SlowMigrator>(&s, "svc")
            .await
            .expect("a long migration completes");
        let db = connect(&s, "svc").await.expect("pool");
        assert_eq!(
            pending_migrations::<SlowMigrator>(&db).await.expect("read"),
            Vec::<String>::new()
        );
    }

    #[tokio::test]
    async fn a_connection_busy_longer_than_the_readiness_timeout_is_not_an_outage() {
        let url = crate::testing::fresh_database_url(crate::testing::Backend::Sqlite).await;
        let mut s = settings(&url);
        s.ready_timeout_ms = 100;
        let db = connect(&s, "svc").await.expect("pool");
        migrate::<TestMigrator>(&db).await.expect("migrate");
        let ready = SchemaReadiness::<TestMigrator>::new(db.clone(), &s);
        // SQLite's only pooled connection, held by a long write (a bulk import's batch).
        let txn = db.begin().await.expect("begin");
        let writer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            txn.commit().await.expect("commit");
        });
        let started = std::time::Instant::now();
        assert_eq!(ready.check().await, Ok(()), "a busy pool is no outage");
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "it waited its turn"
        );
        writer.await.expect("writer");
    }

    #[tokio::test]
    async fn readiness_gives_up_on_a_silent_database_within_its_timeout() {
        let Some(url) = postgres().await else { return };
        let proxy = crate::testing::TcpProxy::start(crate::testing::host_port(&url)).await;
        let mut s = settings(&crate::testing::via_port(&url, proxy.port));
        s.ready_timeout_ms = 300;
        s.acquire_timeout_ms = 500;
        let db = connect(&s, "svc").await.expect("pool");
        migrate::<TestMigrator>(&db).await.expect("migrate");
        let ready = SchemaReadiness::<TestMigrator>::new(db.clone(), &s);
        assert_eq!(ready.check().await, Ok(()));
        proxy.black_hole();
        let started = std::time::Instant::now();
        let err = ready.check().await.expect_err("no answer");
        assert_eq!(err.reason, DATABASE_UNAVAILABLE, "{err:?}");
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "{:?}",
            started.elapsed()
        );
        // A call that meets the pool's own timeout says the same.
        let lost = db
            .execute_unprepared("SELECT 1")
            .await
            .expect_err("no connection");
        assert_eq!(
            crate::Error::from(lost).reason.as_ref(),
            DATABASE_UNAVAILABLE
        );
        proxy.restore();
        let mut ok = false;
        for _ in 0..50 {
            if ready.check().await.is_ok() {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "ready again once the database answers");
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
