//! Part 2: experiments (winner, holdout), journeys (a delivery per occasion), receipts' open
//! and click times, attributed conversions, coupon pools.
use super::index;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Campaigns {
    Table,
    // "" for a scheduled campaign, else the journey's trigger kind ("welcome", "date", ...):
    // the event handlers and the journey job find the running journeys of a kind by it.
    TriggerKind,
    WinnerVariant,
    WinnerTime,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    // A journey's occasion ("birthday-2026"); "" for a one-off campaign. Part of the unique
    // recipient key, so a customer enters a journey once per occasion.
    Occasion,
    OpenTime,
    ClickTime,
}

#[derive(DeriveIden)]
enum Conversions {
    Table,
    DeliveryId,
    ActivityId,
    CampaignId,
    // The delivery's variant; "" for the holdout.
    Variant,
    CustomerId,
    OccurTime,
    // Days since 1970-01-01 (UTC) of occur_time: the report's timeline groups by it.
    OccurDay,
    CurrencyCode,
    AmountMinor,
}

#[derive(DeriveIden)]
enum CouponPools {
    Table,
    Id,
    DisplayName,
    Revision,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden)]
enum CouponCodes {
    Table,
    PoolId,
    Code,
    Claimed,
    // Who the code went to: "customers/{id}" (ClaimCoupon) or "deliveries/{id}" (a
    // campaign's recipient). Unique per pool: a repeat of a claim gets the same code.
    ClaimKey,
    CustomerId,
    ClaimTime,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for col in [
            string_len(Campaigns::TriggerKind, 16)
                .default("")
                .to_owned(),
            string_len_null(Campaigns::WinnerVariant, 32).to_owned(),
            timestamp_with_time_zone_null(Campaigns::WinnerTime).to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Campaigns::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        for col in [
            string_len(Deliveries::Occasion, 64).default("").to_owned(),
            timestamp_with_time_zone_null(Deliveries::OpenTime).to_owned(),
            timestamp_with_time_zone_null(Deliveries::ClickTime).to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Deliveries::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_index(
            Index::drop()
                .name("deliveries_recipient")
                .table(Deliveries::Table)
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "deliveries_recipient",
                Deliveries::Table,
                &["campaign_id", "step", "customer_id", "occasion"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        // The report: a campaign's deliveries per variant and state.
        m.create_index(index(
            "deliveries_campaign_variant",
            Deliveries::Table,
            &["campaign_id", "variant", "state"],
        ))
        .await?;
        m.create_index(index(
            "campaigns_trigger",
            Campaigns::Table,
            &["trigger_kind", "state"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Conversions::Table)
                .col(uuid(Conversions::DeliveryId))
                .col(uuid(Conversions::ActivityId))
                .col(uuid(Conversions::CampaignId))
                .col(string_len(Conversions::Variant, 32))
                .col(uuid(Conversions::CustomerId))
                .col(timestamp_with_time_zone(Conversions::OccurTime))
                .col(integer(Conversions::OccurDay))
                .col(string_len(Conversions::CurrencyCode, 3))
                .col(big_integer(Conversions::AmountMinor))
                .primary_key(
                    Index::create()
                        .col(Conversions::DeliveryId)
                        .col(Conversions::ActivityId),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "conversions_campaign",
            Conversions::Table,
            &["campaign_id", "variant"],
        ))
        .await?;
        m.create_index(index(
            "conversions_customer",
            Conversions::Table,
            &["customer_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(CouponPools::Table)
                .col(pk_uuid(CouponPools::Id))
                .col(string_len(CouponPools::DisplayName, 200))
                .col(big_integer(CouponPools::Revision))
                .col(timestamp_with_time_zone(CouponPools::CreateTime))
                .col(timestamp_with_time_zone(CouponPools::UpdateTime))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CouponCodes::Table)
                .col(uuid(CouponCodes::PoolId))
                .col(string_len(CouponCodes::Code, 80))
                .col(boolean(CouponCodes::Claimed).default(false))
                .col(string_len_null(CouponCodes::ClaimKey, 80))
                .col(uuid_null(CouponCodes::CustomerId))
                .col(timestamp_with_time_zone_null(CouponCodes::ClaimTime))
                .primary_key(
                    Index::create()
                        .col(CouponCodes::PoolId)
                        .col(CouponCodes::Code),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "coupon_codes_claim",
                CouponCodes::Table,
                &["pool_id", "claim_key"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        m.create_index(index(
            "coupon_codes_free",
            CouponCodes::Table,
            &["pool_id", "claimed"],
        ))
        .await?;
        m.create_index(index(
            "coupon_codes_customer",
            CouponCodes::Table,
            &["customer_id"],
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["coupon_codes", "coupon_pools", "conversions"] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
