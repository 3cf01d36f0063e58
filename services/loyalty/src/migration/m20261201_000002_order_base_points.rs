//! An order's points before the tier multiplier (issue 12): a purchase back-dated before it
//! re-rates it at the tier it then had, which needs the points its rules gave at x1.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoyaltyOrders {
    Table,
    BasePoints,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LoyaltyOrders::Table)
                    .add_column(big_integer_null(LoyaltyOrders::BasePoints))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LoyaltyOrders::Table)
                    .drop_column(LoyaltyOrders::BasePoints)
                    .to_owned(),
            )
            .await
    }
}
