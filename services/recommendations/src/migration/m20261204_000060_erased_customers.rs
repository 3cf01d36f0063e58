//! Erased customers: served answers are written behind (see `service::served`), so an answer
//! queued before an erasure may reach the table after the erasure deleted the customer's
//! answers. A tombstone per erased id (the id only, as the access audit keeps it) lets the
//! served log's write drop such answers in its own transaction. Kept as long as served
//! answers are (`serving.recommendation_retention_days`).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{timestamp_with_time_zone, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ErasedCustomers {
    Table,
    CustomerId,
    EraseTime,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ErasedCustomers::Table)
                .col(uuid(ErasedCustomers::CustomerId).primary_key())
                .col(timestamp_with_time_zone(ErasedCustomers::EraseTime))
                .to_owned(),
        )
        .await?;
        m.create_index(super::index(
            "erased_customers_erase_time",
            ErasedCustomers::Table,
            &["erase_time"],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ErasedCustomers::Table).to_owned())
            .await
    }
}
