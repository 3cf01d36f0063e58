//! The erasure status (issue 12): each erasure's CustomerErased event id, and per (erased
//! customer, service) the completion that service reported. Ids, times and counts only: no
//! personal data.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CustomerErasures {
    Table,
    CustomerId,
    ErasureEventId,
    EraseTime,
}

#[derive(DeriveIden)]
enum ErasureCompletions {
    Table,
    CustomerId,
    Service,
    ErasureEventId,
    CompletionEventId,
    CompleteTime,
    ScrubbedRecords,
    RecordTime,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CustomerErasures::Table)
                .col(pk_uuid(CustomerErasures::CustomerId))
                .col(uuid(CustomerErasures::ErasureEventId))
                .col(timestamp_with_time_zone(CustomerErasures::EraseTime))
                .to_owned(),
        )
        .await?;
        // The key is the status's one read (a customer's rows) and makes a second report of
        // one service a no-op.
        m.create_table(
            Table::create()
                .table(ErasureCompletions::Table)
                .col(uuid(ErasureCompletions::CustomerId))
                .col(string(ErasureCompletions::Service))
                .col(uuid(ErasureCompletions::ErasureEventId))
                .col(uuid(ErasureCompletions::CompletionEventId))
                .col(timestamp_with_time_zone(ErasureCompletions::CompleteTime))
                .col(big_integer(ErasureCompletions::ScrubbedRecords))
                .col(timestamp_with_time_zone(ErasureCompletions::RecordTime))
                .primary_key(
                    Index::create()
                        .col(ErasureCompletions::CustomerId)
                        .col(ErasureCompletions::Service),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ErasureCompletions::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(CustomerErasures::Table).to_owned())
            .await
    }
}
