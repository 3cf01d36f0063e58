//! Schema migrations, one per file, never edited once released.
mod m20261123_000001_create_customers;
mod m20261201_000001_range_scan_indexes;
mod m20261201_000002_erasure_status;
mod m20261202_000001_pii_at_rest;

crm_platform::migrator!(Migrator: [
    crm_platform::idempotency::CreateIdempotencyKeys,
    m20261123_000001_create_customers::Migration,
    // Platform: the shared-cache generation (see crm_platform::cache_generation).
    crm_platform::cache_generation::CreateCacheGeneration,
    m20261201_000001_range_scan_indexes::Migration,
    // Platform: the transactional outbox of the events customers publishes.
    crm_platform::events::CreateEventOutbox,
    // Platform: the inbox of the events customers consumes (erasure completions).
    crm_platform::events::CreateEventInbox,
    m20261201_000002_erasure_status::Migration,
    // Platform: the data keys personal data is sealed with (see crm_platform::pii).
    crm_platform::pii::CreatePiiDataKeys,
    m20261202_000001_pii_at_rest::Migration,
    // Platform: the access audit (who read, exported, erased or merged whom).
    crm_platform::audit::CreateAccessRecords,
]);
