//! Database connections (PostgreSQL or SQLite, chosen by the URL) and migrations.
use crate::config::{DatabaseSettings, redact_url};
use crate::server::Readiness;
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
    opt.max_connections(max)
        .min_connections(settings.min_connections.min(max))
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .sqlx_logging(false);
    let db = Database::connect(opt).await?;
    if sqlite {
        db.execute_unprepared(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .await?;
    }
    tracing::info!(url = %redact_url(&url), max_connections = max, "database connected");
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

/// Ready when the database answers and no migration of `M` is pending.
pub struct SchemaReadiness<M> {
    db: DatabaseConnection,
    _m: PhantomData<fn() -> M>,
}

impl<M> SchemaReadiness<M> {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            _m: PhantomData,
        }
    }
}

impl<M: MigratorTrait + 'static> Readiness for SchemaReadiness<M> {
    fn ready(&self) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        Box::pin(async move {
            if let Err(e) = self.db.ping().await {
                tracing::warn!(error = %e, "database unreachable");
                return false;
            }
            match M::get_pending_migrations(&self.db).await {
                Ok(p) if p.is_empty() => true,
                Ok(p) => {
                    tracing::warn!(pending = p.len(), "schema not current; run `migrate`");
                    false
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read migration state");
                    false
                }
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
