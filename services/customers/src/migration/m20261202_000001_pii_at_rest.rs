//! Personal data at rest (issue 15): a customer's profile moves into `sealed` (AES-256-GCM,
//! see crm_platform::pii) with the id of its data key in `pii_key`. Rows already there are
//! marked `legacy` (plain profile, plain search keys); the re-encryption job rewrites them.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Customers {
    Table,
    PiiKey,
    Sealed,
}

const LEGACY: &str = "legacy";

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        m.alter_table(
            Table::alter()
                .table(Customers::Table)
                .add_column(string_null(Customers::PiiKey))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Customers::Table)
                .add_column(blob_null(Customers::Sealed))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::update()
                .table(Customers::Table)
                .value(Customers::PiiKey, LEGACY)
                .to_owned(),
        )
        .await?;
        // The re-encryption job's read: rows whose key is not the write key.
        m.create_index(
            Index::create()
                .name("idx_customers_pii_key")
                .table(Customers::Table)
                .col(Customers::PiiKey)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_customers_pii_key")
                .table(Customers::Table)
                .to_owned(),
        )
        .await?;
        for col in [Customers::Sealed, Customers::PiiKey] {
            m.alter_table(
                Table::alter()
                    .table(Customers::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
