//! Schema migrations, one per file, never edited once released.
use sea_orm_migration::prelude::*;

mod m20261123_000001_create_tickets;
mod m20261201_000002_ticket_stats_columns;
mod m20261201_000003_survey_answers;
mod m20261201_000004_range_scan_indexes;
mod m20261201_000005_record_columns;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(crm_platform::idempotency::CreateIdempotencyKeys),
            Box::new(m20261123_000001_create_tickets::Migration),
            Box::new(m20261201_000002_ticket_stats_columns::Migration),
            Box::new(m20261201_000003_survey_answers::Migration),
            Box::new(m20261201_000004_range_scan_indexes::Migration),
            Box::new(m20261201_000005_record_columns::Migration),
        ]
    }
}
