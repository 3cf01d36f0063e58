//! Schema migrations, one per file, in release order, never edited once released.
mod m20261201_000001_create_notes;

crm_platform::migrator!(Migrator: [
    // Platform: the request ids of mutations (see crm_platform::idempotency).
    crm_platform::idempotency::CreateIdempotencyKeys,
    // Platform: the shared-cache generation, for a service that caches (Parts::cache).
    crm_platform::cache_generation::CreateCacheGeneration,
    m20261201_000001_create_notes::Migration,
]);
