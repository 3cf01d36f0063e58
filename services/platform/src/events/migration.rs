//! The platform's event tables; a producing service lists [`CreateEventOutbox`] in its
//! `migrator!`, a consuming one [`CreateEventInbox`] (a service that does both lists both).
use sea_orm::ConnectionTrait as _;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_pk_auto, blob, integer, string, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveIden)]
pub(super) enum EventOutbox {
    Table,
    Seq,
    Id,
    Source,
    EventType,
    Subject,
    Time,
    Traceparent,
    SchemaVersion,
    ContentType,
    Payload,
    CreateTime,
    SentTime,
}

/// The `event_outbox` table: one row per appended event, in `seq` order, until the relay has
/// published it (`sent_time`) and the retention has passed.
pub struct CreateEventOutbox;

impl MigrationName for CreateEventOutbox {
    fn name(&self) -> &str {
        "m20261201_100000_create_event_outbox"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateEventOutbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EventOutbox::Table)
                    .if_not_exists()
                    .col(big_pk_auto(EventOutbox::Seq))
                    .col(string(EventOutbox::Id).unique_key())
                    .col(string(EventOutbox::Source))
                    .col(string(EventOutbox::EventType))
                    .col(string(EventOutbox::Subject))
                    .col(timestamp_with_time_zone(EventOutbox::Time))
                    .col(string(EventOutbox::Traceparent))
                    .col(integer(EventOutbox::SchemaVersion))
                    .col(string(EventOutbox::ContentType))
                    .col(blob(EventOutbox::Payload))
                    .col(timestamp_with_time_zone(EventOutbox::CreateTime))
                    .col(timestamp_with_time_zone_null(EventOutbox::SentTime))
                    .to_owned(),
            )
            .await?;
        let conn = manager.get_connection();
        // The relay's reads: unsent rows in order (small, whatever the retention keeps), and
        // the unsent rows of a few subjects; the purge's: sent rows by time.
        for ddl in [
            "CREATE INDEX idx_event_outbox_unsent ON event_outbox (seq) WHERE sent_time IS NULL",
            "CREATE INDEX idx_event_outbox_unsent_subject ON event_outbox (subject, seq) WHERE sent_time IS NULL",
            "CREATE INDEX idx_event_outbox_sent ON event_outbox (sent_time) WHERE sent_time IS NOT NULL",
        ] {
            conn.execute_unprepared(ddl).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EventOutbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EventInbox {
    Table,
    Consumer,
    EventId,
    ProcessTime,
}

/// The `event_inbox` table: the events each consumer (group) has applied, written in the
/// transaction of the handler's effects.
pub struct CreateEventInbox;

impl MigrationName for CreateEventInbox {
    fn name(&self) -> &str {
        "m20261201_100001_create_event_inbox"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateEventInbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EventInbox::Table)
                    .if_not_exists()
                    .col(string(EventInbox::Consumer))
                    .col(string(EventInbox::EventId))
                    .col(timestamp_with_time_zone(EventInbox::ProcessTime))
                    .primary_key(
                        Index::create()
                            .col(EventInbox::Consumer)
                            .col(EventInbox::EventId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(crate::db::index(
                "idx_event_inbox_time",
                EventInbox::Table,
                vec![EventInbox::ProcessTime.into_iden()],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EventInbox::Table).to_owned())
            .await
    }
}
