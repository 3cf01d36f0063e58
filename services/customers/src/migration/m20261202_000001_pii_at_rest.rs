//! Personal data at rest (issue 15): a customer's profile, and an activity's free text,
//! references and items, move into `sealed` (AES-256-GCM, see crm_platform::pii) with the id
//! of its data key in `pii_key`. Rows already there are marked `legacy` (plain values, plain
//! search keys); the re-encryption job rewrites them.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Customers {
    Table,
    PiiKey,
    Sealed,
}

#[derive(DeriveIden, Clone, Copy)]
enum Activities {
    Table,
    PiiKey,
    Sealed,
}

/// The tables with sealed rows: (table, its pii_key column, its sealed column, index name).
fn tables() -> [(DynIden, DynIden, DynIden, &'static str); 2] {
    [
        (
            Customers::Table.into_iden(),
            Customers::PiiKey.into_iden(),
            Customers::Sealed.into_iden(),
            "idx_customers_pii_key",
        ),
        (
            Activities::Table.into_iden(),
            Activities::PiiKey.into_iden(),
            Activities::Sealed.into_iden(),
            "idx_activities_pii_key",
        ),
    ]
}

const LEGACY: &str = "legacy";

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, key, sealed, index) in tables() {
            // One column per statement: SQLite alters one at a time.
            m.alter_table(
                Table::alter()
                    .table(table.clone())
                    .add_column(string_null(key.clone()))
                    .to_owned(),
            )
            .await?;
            m.alter_table(
                Table::alter()
                    .table(table.clone())
                    .add_column(blob_null(sealed))
                    .to_owned(),
            )
            .await?;
            m.exec_stmt(
                Query::update()
                    .table(table.clone())
                    .value(key.clone(), LEGACY)
                    .to_owned(),
            )
            .await?;
            // The re-encryption job's read: rows whose key is not the write key.
            m.create_index(Index::create().name(index).table(table).col(key).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, key, sealed, index) in tables() {
            m.drop_index(Index::drop().name(index).table(table.clone()).to_owned())
                .await?;
            for col in [sealed, key] {
                m.alter_table(
                    Table::alter()
                        .table(table.clone())
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
            }
        }
        Ok(())
    }
}
