//! The customer merges tickets has applied (loser -> survivor), so a merge into a customer
//! that was itself merged away since (the events of two merges handled out of order) files
//! the tickets under the final survivor.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CustomerMerges {
    Table,
    Loser,
    Survivor,
    MergeTime,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CustomerMerges::Table)
                .col(uuid(CustomerMerges::Loser).primary_key())
                .col(uuid(CustomerMerges::Survivor))
                .col(timestamp_with_time_zone(CustomerMerges::MergeTime))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CustomerMerges::Table).to_owned())
            .await
    }
}
