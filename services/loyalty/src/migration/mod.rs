//! Schema migrations, one per file, never edited once released.
use sea_orm_migration::prelude::*;

mod m20261123_000001_create_ledger;
mod m20261201_000001_range_scan_indexes;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(crm_platform::idempotency::CreateIdempotencyKeys),
            Box::new(m20261123_000001_create_ledger::Migration),
            // Platform: the shared-cache generation (see crm_platform::cache_generation).
            Box::new(crm_platform::cache_generation::CreateCacheGeneration),
            Box::new(m20261201_000001_range_scan_indexes::Migration),
        ]
    }
}
