//! The ledger: wallets (chain heads and balances), transactions and their postings (append
//! only), lots, holds, per-order reversal state and tier history.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoyaltyWallets {
    Table,
    CustomerId,
    Sequence,
    LastHash,
    Balance,
    Held,
    LifetimeEarned,
    LifetimeRedeemed,
    LifetimeExpired,
    Owed,
    Tier,
    UpdateTime,
}

#[derive(DeriveIden)]
enum LoyaltyTransactions {
    Table,
    Id,
    CustomerId,
    Sequence,
    Kind,
    OrderId,
    Reason,
    Actor,
    Shortfall,
    Related,
    QualifyingDelta,
    QualifyTime,
    WalletAfter,
    HeldAfter,
    CreateTime,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum LoyaltyPostings {
    Table,
    TransactionId,
    Idx,
    Account,
    Amount,
}

#[derive(DeriveIden)]
enum LoyaltyLots {
    Table,
    Id,
    CustomerId,
    OrderId,
    EarnTime,
    AvailableTime,
    ExpireTime,
    Amount,
    Remaining,
}

#[derive(DeriveIden)]
enum LoyaltyHolds {
    Table,
    Id,
    CustomerId,
    Points,
    Captured,
    State,
    OrderId,
    Lots,
    CreateTime,
    ExpireTime,
}

#[derive(DeriveIden)]
enum LoyaltyOrders {
    Table,
    CustomerId,
    OrderId,
    PurchaseAmountMinor,
    Currency,
    Earned,
    EarnTime,
    RefundedMinor,
    ClawedBack,
    Shortfall,
    Redeemed,
    Restored,
    FullyReversed,
}

#[derive(DeriveIden)]
enum LoyaltyTierChanges {
    Table,
    Id,
    CustomerId,
    FromTier,
    ToTier,
    QualifyingPoints,
    Transaction,
    ChangeTime,
}

use crm_platform::db::index;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(LoyaltyWallets::Table)
                .col(pk_uuid(LoyaltyWallets::CustomerId))
                .col(big_integer(LoyaltyWallets::Sequence))
                .col(string(LoyaltyWallets::LastHash))
                .col(big_integer(LoyaltyWallets::Balance))
                .col(big_integer(LoyaltyWallets::Held))
                .col(big_integer(LoyaltyWallets::LifetimeEarned))
                .col(big_integer(LoyaltyWallets::LifetimeRedeemed))
                .col(big_integer(LoyaltyWallets::LifetimeExpired))
                .col(big_integer(LoyaltyWallets::Owed))
                .col(string(LoyaltyWallets::Tier))
                .col(timestamp_with_time_zone(LoyaltyWallets::UpdateTime))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LoyaltyTransactions::Table)
                .col(pk_uuid(LoyaltyTransactions::Id))
                .col(uuid(LoyaltyTransactions::CustomerId))
                .col(big_integer(LoyaltyTransactions::Sequence))
                .col(string(LoyaltyTransactions::Kind))
                .col(string(LoyaltyTransactions::OrderId))
                .col(text(LoyaltyTransactions::Reason))
                .col(string(LoyaltyTransactions::Actor))
                .col(big_integer(LoyaltyTransactions::Shortfall))
                .col(string(LoyaltyTransactions::Related))
                .col(big_integer(LoyaltyTransactions::QualifyingDelta))
                .col(timestamp_with_time_zone(LoyaltyTransactions::QualifyTime))
                .col(big_integer(LoyaltyTransactions::WalletAfter))
                .col(big_integer(LoyaltyTransactions::HeldAfter))
                .col(timestamp_with_time_zone(LoyaltyTransactions::CreateTime))
                .col(string(LoyaltyTransactions::PrevHash))
                .col(string(LoyaltyTransactions::Hash))
                .to_owned(),
        )
        .await?;
        // One entry per chain position: a double posting cannot commit.
        m.create_index(
            index(
                "idx_loyalty_tx_chain",
                LoyaltyTransactions::Table,
                vec![
                    LoyaltyTransactions::CustomerId.into_iden(),
                    LoyaltyTransactions::Sequence.into_iden(),
                ],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_loyalty_tx_time",
            LoyaltyTransactions::Table,
            vec![
                LoyaltyTransactions::CustomerId.into_iden(),
                LoyaltyTransactions::CreateTime.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            "idx_loyalty_tx_qualify",
            LoyaltyTransactions::Table,
            vec![
                LoyaltyTransactions::CustomerId.into_iden(),
                LoyaltyTransactions::QualifyTime.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(LoyaltyPostings::Table)
                .col(uuid(LoyaltyPostings::TransactionId))
                .col(integer(LoyaltyPostings::Idx))
                .col(string(LoyaltyPostings::Account))
                .col(big_integer(LoyaltyPostings::Amount))
                .primary_key(
                    Index::create()
                        .col(LoyaltyPostings::TransactionId)
                        .col(LoyaltyPostings::Idx),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LoyaltyLots::Table)
                .col(pk_uuid(LoyaltyLots::Id))
                .col(uuid(LoyaltyLots::CustomerId))
                .col(string(LoyaltyLots::OrderId))
                .col(timestamp_with_time_zone(LoyaltyLots::EarnTime))
                .col(timestamp_with_time_zone(LoyaltyLots::AvailableTime))
                .col(timestamp_with_time_zone(LoyaltyLots::ExpireTime))
                .col(big_integer(LoyaltyLots::Amount))
                .col(big_integer(LoyaltyLots::Remaining))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_loyalty_lots_customer",
            LoyaltyLots::Table,
            vec![
                LoyaltyLots::CustomerId.into_iden(),
                LoyaltyLots::Remaining.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            "idx_loyalty_lots_expiry",
            LoyaltyLots::Table,
            vec![
                LoyaltyLots::ExpireTime.into_iden(),
                LoyaltyLots::Remaining.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(LoyaltyHolds::Table)
                .col(pk_uuid(LoyaltyHolds::Id))
                .col(uuid(LoyaltyHolds::CustomerId))
                .col(big_integer(LoyaltyHolds::Points))
                .col(big_integer(LoyaltyHolds::Captured))
                .col(string(LoyaltyHolds::State))
                .col(string(LoyaltyHolds::OrderId))
                .col(json(LoyaltyHolds::Lots))
                .col(timestamp_with_time_zone(LoyaltyHolds::CreateTime))
                .col(timestamp_with_time_zone(LoyaltyHolds::ExpireTime))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_loyalty_holds_expiry",
            LoyaltyHolds::Table,
            vec![
                LoyaltyHolds::State.into_iden(),
                LoyaltyHolds::ExpireTime.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(LoyaltyOrders::Table)
                .col(uuid(LoyaltyOrders::CustomerId))
                .col(string(LoyaltyOrders::OrderId))
                .col(big_integer_null(LoyaltyOrders::PurchaseAmountMinor))
                .col(string(LoyaltyOrders::Currency))
                .col(big_integer(LoyaltyOrders::Earned))
                .col(timestamp_with_time_zone_null(LoyaltyOrders::EarnTime))
                .col(big_integer(LoyaltyOrders::RefundedMinor))
                .col(big_integer(LoyaltyOrders::ClawedBack))
                .col(big_integer(LoyaltyOrders::Shortfall))
                .col(big_integer(LoyaltyOrders::Redeemed))
                .col(big_integer(LoyaltyOrders::Restored))
                .col(boolean(LoyaltyOrders::FullyReversed))
                .primary_key(
                    Index::create()
                        .col(LoyaltyOrders::CustomerId)
                        .col(LoyaltyOrders::OrderId),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LoyaltyTierChanges::Table)
                .col(pk_uuid(LoyaltyTierChanges::Id))
                .col(uuid(LoyaltyTierChanges::CustomerId))
                .col(string(LoyaltyTierChanges::FromTier))
                .col(string(LoyaltyTierChanges::ToTier))
                .col(big_integer(LoyaltyTierChanges::QualifyingPoints))
                .col(string(LoyaltyTierChanges::Transaction))
                .col(timestamp_with_time_zone(LoyaltyTierChanges::ChangeTime))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_loyalty_tier_changes",
            LoyaltyTierChanges::Table,
            vec![
                LoyaltyTierChanges::CustomerId.into_iden(),
                LoyaltyTierChanges::ChangeTime.into_iden(),
            ],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            LoyaltyTierChanges::Table.into_iden(),
            LoyaltyOrders::Table.into_iden(),
            LoyaltyHolds::Table.into_iden(),
            LoyaltyLots::Table.into_iden(),
            LoyaltyPostings::Table.into_iden(),
            LoyaltyTransactions::Table.into_iden(),
            LoyaltyWallets::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
