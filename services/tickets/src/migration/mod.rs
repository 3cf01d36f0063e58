//! Schema migrations, one per file, never edited once released.
mod m20261123_000001_create_tickets;
mod m20261201_000002_ticket_stats_columns;
mod m20261201_000003_survey_answers;
mod m20261201_000004_range_scan_indexes;
mod m20261201_000005_record_columns;
mod m20261201_000006_customer_merges;

crm_platform::migrator!(Migrator: [
    crm_platform::idempotency::CreateIdempotencyKeys,
    m20261123_000001_create_tickets::Migration,
    m20261201_000002_ticket_stats_columns::Migration,
    m20261201_000003_survey_answers::Migration,
    m20261201_000004_range_scan_indexes::Migration,
    m20261201_000005_record_columns::Migration,
    crm_platform::events::CreateEventOutbox,
    crm_platform::events::CreateEventInbox,
    m20261201_000006_customer_merges::Migration,
]);
