//! Schema migrations, one per file, never edited once released.
use sea_orm_migration::prelude::*;

mod m20261201_000001_create_notes;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            // Platform: the request ids of mutations (see crm_platform::idempotency).
            Box::new(crm_platform::idempotency::CreateIdempotencyKeys),
            // Platform: the shared-cache generation, for a service that caches (Parts::cache).
            Box::new(crm_platform::cache_generation::CreateCacheGeneration),
            Box::new(m20261201_000001_create_notes::Migration),
        ]
    }
}
