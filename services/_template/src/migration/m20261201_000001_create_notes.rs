//! Notes. Lists read the primary key in order (UUIDv7 ids), so no other index is needed.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notes {
    Table,
    Id,
    Title,
    Body,
    Revision,
    CreateTime,
    UpdateTime,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Notes::Table)
                .col(pk_uuid(Notes::Id))
                .col(text(Notes::Title))
                .col(text(Notes::Body))
                .col(big_integer(Notes::Revision))
                .col(timestamp_with_time_zone(Notes::CreateTime))
                .col(timestamp_with_time_zone(Notes::UpdateTime))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Notes::Table).to_owned())
            .await
    }
}
