//! Schema migrations, one per file, in release order, never edited once released.
mod m20261204_000001_create_recommendations;
mod m20261204_000040_interactions_record_time;
mod m20261204_000050_deleted_items;
mod m20261204_000060_erased_customers;

use sea_orm_migration::prelude::{Alias, Index, IndexCreateStatement, IntoIden};

/// A plain index named `name` on `cols` of `table`.
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
    // Platform: the shared-cache generation (Parts::cache).
    crm_platform::cache_generation::CreateCacheGeneration,
    // Platform: the transactional outbox (ErasureCompleted answers).
    crm_platform::events::CreateEventOutbox,
    // Platform: the inbox of the events recommendations consumes (customers, loyalty).
    crm_platform::events::CreateEventInbox,
    m20261204_000001_create_recommendations::Migration,
    m20261204_000040_interactions_record_time::Migration,
    m20261204_000050_deleted_items::Migration,
    m20261204_000060_erased_customers::Migration,
]);
