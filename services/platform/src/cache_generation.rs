//! The cache generation: one counter per service database, part of every shared-cache key.
//! A writer that could not invalidate Redis after a commit bumps it (its database just
//! answered); every replica re-reads it every `local_ttl_ms / 2` and, when it moved, clears
//! its in-process tier and stops reading the keys of the old generation. So no replica reads
//! a Redis value written before that commit once it has seen the new generation, i.e. within
//! `local_ttl_ms` of the write (see `cache.rs`). Every service with a cache lists
//! [`CreateCacheGeneration`] in its migrator.
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer};

const TABLE: &str = "cache_generation";

/// The current generation (0 before the first bump).
pub async fn read(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT generation FROM {TABLE} WHERE id = 1"),
        ))
        .await?;
    let generation = row
        .map(|r| r.try_get::<i64>("", "generation"))
        .transpose()?
        .unwrap_or(0);
    Ok(Ord::max(generation, 0_i64).unsigned_abs())
}

/// Moves to a new generation and returns it.
pub async fn bump(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_string(
        backend,
        format!("UPDATE {TABLE} SET generation = generation + 1 WHERE id = 1"),
    ))
    .await?;
    read(db).await
}

#[derive(DeriveIden)]
enum CacheGeneration {
    Table,
    Id,
    Generation,
}

/// The `cache_generation` table with its one row.
pub struct CreateCacheGeneration;

impl MigrationName for CreateCacheGeneration {
    fn name(&self) -> &str {
        "m20261201_000000_create_cache_generation"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateCacheGeneration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CacheGeneration::Table)
                    .if_not_exists()
                    .col(integer(CacheGeneration::Id).primary_key())
                    .col(big_integer(CacheGeneration::Generation))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "INSERT INTO {TABLE} (id, generation) VALUES (1, 0)"
            ))
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CacheGeneration::Table).to_owned())
            .await
    }
}
