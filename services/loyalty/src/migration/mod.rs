//! Schema migrations, one per file, never edited once released.
mod m20261123_000001_create_ledger;
mod m20261201_000001_range_scan_indexes;
mod m20261201_000002_order_base_points;
mod m20261201_000003_merge_and_erase;

crm_platform::migrator!(Migrator: [
    crm_platform::idempotency::CreateIdempotencyKeys,
    m20261123_000001_create_ledger::Migration,
    // Platform: the shared-cache generation (see crm_platform::cache_generation).
    crm_platform::cache_generation::CreateCacheGeneration,
    m20261201_000001_range_scan_indexes::Migration,
    m20261201_000002_order_base_points::Migration,
    // Platform: the event backbone's outbox (produced) and inbox (consumed) tables.
    crm_platform::events::CreateEventOutbox,
    crm_platform::events::CreateEventInbox,
    m20261201_000003_merge_and_erase::Migration,
    // Platform: the access audit (manual ledger adjustments).
    crm_platform::audit::CreateAccessRecords,
]);
