//! Merges and erasure (issue 12): a wallet names the survivor it was merged into, and a
//! transaction keeps the digest of its free text beside it, so erasure can scrub the text
//! while the hash chain stays verifiable. Rows written before have no digest (empty): their
//! hash covers the text itself, and erasure re-chains them (`service::erase`).
use crm_platform::db::{drop_index, index_named};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoyaltyWallets {
    Table,
    MergedInto,
}

#[derive(DeriveIden)]
enum LoyaltyTransactions {
    Table,
    TextDigest,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LoyaltyWallets::Table)
                    .add_column(uuid_null(LoyaltyWallets::MergedInto))
                    .to_owned(),
            )
            .await?;
        // A merge re-points the customers merged into a loser at once (one hop for reads).
        manager
            .create_index(index_named(
                "loyalty_wallets_merged_into",
                "loyalty_wallets",
                &["merged_into"],
            ))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LoyaltyTransactions::Table)
                    .add_column(string(LoyaltyTransactions::TextDigest).default(""))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LoyaltyTransactions::Table)
                    .drop_column(LoyaltyTransactions::TextDigest)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(drop_index("loyalty_wallets_merged_into", "loyalty_wallets"))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(LoyaltyWallets::Table)
                    .drop_column(LoyaltyWallets::MergedInto)
                    .to_owned(),
            )
            .await
    }
}
