//! Deleted items: an item is "never recommended again" once deleted, but the model's lists
//! still name it until the next rebuild, and interactions may name items the catalogue never
//! held (those are served). A tombstone per deleted id lets serving tell the two apart.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string_len, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DeletedItems {
    Table,
    Id,
    DeleteTime,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(DeletedItems::Table)
                .col(string_len(DeletedItems::Id, 128).primary_key())
                .col(timestamp_with_time_zone(DeletedItems::DeleteTime))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(DeletedItems::Table).to_owned())
            .await
    }
}
