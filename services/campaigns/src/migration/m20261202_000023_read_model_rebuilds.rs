//! RebuildReadModel's progress: one row per request, the page tokens reached in customers'
//! and tickets' listings, so a rebuild survives a restart and replicas share it.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReadModelRebuilds {
    Table,
    Id,
    CustomersToken,
    CustomersDone,
    TicketsToken,
    TicketsDone,
    RequestTime,
    UpdateTime,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ReadModelRebuilds::Table)
                .col(pk_uuid(ReadModelRebuilds::Id))
                .col(text(ReadModelRebuilds::CustomersToken).default(""))
                .col(boolean(ReadModelRebuilds::CustomersDone).default(false))
                .col(text(ReadModelRebuilds::TicketsToken).default(""))
                .col(boolean(ReadModelRebuilds::TicketsDone).default(false))
                .col(timestamp_with_time_zone(ReadModelRebuilds::RequestTime))
                .col(timestamp_with_time_zone(ReadModelRebuilds::UpdateTime))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ReadModelRebuilds::Table).to_owned())
            .await
    }
}
