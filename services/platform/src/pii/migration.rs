//! The `pii_data_keys` table; a service that seals personal data lists
//! [`CreatePiiDataKeys`] in its `migrator!`.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{blob, string, timestamp_with_time_zone};

#[derive(DeriveIden)]
pub(super) enum PiiDataKeys {
    Table,
    Id,
    Purpose,
    KekId,
    Wrapped,
    CreateTime,
}

/// One row per data key: its id (what sealed rows name), purpose (`data` or `index`), the
/// key-encryption key it is wrapped with, and the wrapped bytes. Never the key itself.
pub struct CreatePiiDataKeys;

impl MigrationName for CreatePiiDataKeys {
    fn name(&self) -> &str {
        "m20261202_100000_create_pii_data_keys"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreatePiiDataKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PiiDataKeys::Table)
                    .if_not_exists()
                    .col(string(PiiDataKeys::Id).primary_key())
                    .col(string(PiiDataKeys::Purpose))
                    .col(string(PiiDataKeys::KekId))
                    .col(blob(PiiDataKeys::Wrapped))
                    .col(timestamp_with_time_zone(PiiDataKeys::CreateTime))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PiiDataKeys::Table).to_owned())
            .await
    }
}
