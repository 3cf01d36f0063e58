//! Schema migrations, one per file, in release order, never edited once released.
mod m20261202_000001_create_read_model;
mod m20261202_000002_create_campaigns;
mod m20261202_000010_segment_evaluation;
mod m20261202_000023_read_model_rebuilds;
mod m20261203_000001_experiments_journeys_coupons;

use sea_orm_migration::prelude::{Alias, Index, IndexCreateStatement, IntoIden};

/// A plain index named `name` on `cols` of `table` (the tables' migrations share it).
fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(Alias::new(*c));
    }
    i.to_owned()
}

crm_platform::migrator!(Migrator: [
    // Platform: the request ids of mutations (see crm_platform::idempotency).
    crm_platform::idempotency::CreateIdempotencyKeys,
    // Platform: the shared-cache generation, for a service that caches (Parts::cache).
    crm_platform::cache_generation::CreateCacheGeneration,
    // Platform: the transactional outbox of the events campaigns publishes.
    crm_platform::events::CreateEventOutbox,
    // Platform: the inbox of the events campaigns consumes (customers, loyalty, tickets).
    crm_platform::events::CreateEventInbox,
    // Platform: the data keys personal data is sealed with (see crm_platform::pii).
    crm_platform::pii::CreatePiiDataKeys,
    m20261202_000001_create_read_model::Migration,
    m20261202_000002_create_campaigns::Migration,
    m20261202_000010_segment_evaluation::Migration,
    m20261202_000023_read_model_rebuilds::Migration,
    m20261203_000001_experiments_journeys_coupons::Migration,
]);
