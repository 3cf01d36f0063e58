//! The read model: what campaigns knows of each customer, fed by customers', loyalty's and
//! tickets' events (and refreshed over gRPC). Names and contact data are sealed in
//! `members.profile` (crm_platform::pii); the columns segments test are plain, custom
//! attributes only as keyed hashes (blind index). Every segment condition is one indexed
//! lookup: the indexes below are the ones the compiled SQL uses.
use super::index;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Members {
    Table,
    Id,
    State,
    MergedInto,
    Profile,
    PiiKey,
    LanguageCode,
    TimeZone,
    LifecycleStage,
    BirthMonth,
    BirthDay,
    Tier,
    AvailablePoints,
    OrderCount,
    LastPurchaseTime,
    RfmSegment,
    ProfileStale,
    LoyaltyStale,
    RefreshAfter,
    SegmentsDirty,
    UpdateTime,
}

#[derive(DeriveIden)]
enum MemberTags {
    Table,
    CustomerId,
    Tag,
}

#[derive(DeriveIden)]
enum MemberAttributes {
    Table,
    CustomerId,
    KeyHash,
    ValueHash,
}

#[derive(DeriveIden)]
enum MemberDates {
    Table,
    CustomerId,
    Kind,
    Month,
    Day,
}

#[derive(DeriveIden)]
enum MemberConsents {
    Table,
    CustomerId,
    Channel,
    Granted,
    UpdateTime,
}

#[derive(DeriveIden)]
enum MemberOrders {
    Table,
    ActivityId,
    CustomerId,
    OccurTime,
    CurrencyCode,
    AmountMinor,
}

#[derive(DeriveIden)]
enum MemberOrderItems {
    Table,
    ActivityId,
    ItemId,
    CustomerId,
    OccurTime,
    Quantity,
}

#[derive(DeriveIden)]
enum MemberTickets {
    Table,
    TicketId,
    CustomerId,
    Category,
    Open,
    UpdateTime,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Members::Table)
                .col(pk_uuid(Members::Id))
                // "active", "deleted" or "merged" (erased members are removed).
                .col(string_len(Members::State, 16))
                .col(uuid_null(Members::MergedInto))
                // Sealed JSON: names, primary e-mail, first phone (null until refreshed).
                .col(blob_null(Members::Profile))
                .col(string_len_null(Members::PiiKey, 64))
                .col(string_len(Members::LanguageCode, 64).default(""))
                .col(string_len(Members::TimeZone, 64).default(""))
                .col(integer(Members::LifecycleStage).default(0))
                .col(small_integer_null(Members::BirthMonth))
                .col(small_integer_null(Members::BirthDay))
                .col(string_len(Members::Tier, 64).default(""))
                .col(big_integer(Members::AvailablePoints).default(0))
                .col(big_integer(Members::OrderCount).default(0))
                .col(timestamp_with_time_zone_null(Members::LastPurchaseTime))
                .col(string_len(Members::RfmSegment, 64).default(""))
                .col(boolean(Members::ProfileStale).default(true))
                .col(boolean(Members::LoyaltyStale).default(true))
                .col(timestamp_with_time_zone_null(Members::RefreshAfter))
                .col(boolean(Members::SegmentsDirty).default(true))
                .col(timestamp_with_time_zone(Members::UpdateTime))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("members_profile_stale", &["profile_stale", "id"][..]),
            ("members_loyalty_stale", &["loyalty_stale", "id"][..]),
            ("members_segments_dirty", &["segments_dirty", "id"][..]),
            ("members_tier", &["tier", "id"][..]),
            ("members_language", &["language_code", "id"][..]),
            ("members_birthday", &["birth_month", "birth_day"][..]),
            ("members_last_purchase", &["last_purchase_time"][..]),
            ("members_rfm", &["rfm_segment", "id"][..]),
            ("members_points", &["available_points"][..]),
            ("members_order_count", &["order_count"][..]),
        ] {
            m.create_index(index(name, Members::Table, cols)).await?;
        }

        m.create_table(
            Table::create()
                .table(MemberTags::Table)
                .col(uuid(MemberTags::CustomerId))
                .col(string_len(MemberTags::Tag, 200))
                .primary_key(
                    Index::create()
                        .col(MemberTags::CustomerId)
                        .col(MemberTags::Tag),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "member_tags_tag",
            MemberTags::Table,
            &["tag", "customer_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MemberAttributes::Table)
                .col(uuid(MemberAttributes::CustomerId))
                .col(string_len(MemberAttributes::KeyHash, 64))
                .col(string_len(MemberAttributes::ValueHash, 64))
                .primary_key(
                    Index::create()
                        .col(MemberAttributes::CustomerId)
                        .col(MemberAttributes::KeyHash),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "member_attributes_value",
            MemberAttributes::Table,
            &["key_hash", "value_hash", "customer_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MemberDates::Table)
                .col(uuid(MemberDates::CustomerId))
                .col(string_len(MemberDates::Kind, 64))
                .col(small_integer(MemberDates::Month))
                .col(small_integer(MemberDates::Day))
                .primary_key(
                    Index::create()
                        .col(MemberDates::CustomerId)
                        .col(MemberDates::Kind),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "member_dates_kind",
            MemberDates::Table,
            &["kind", "month", "day", "customer_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MemberConsents::Table)
                .col(uuid(MemberConsents::CustomerId))
                // crm.customers.v1.Channel number.
                .col(integer(MemberConsents::Channel))
                .col(boolean(MemberConsents::Granted))
                .col(timestamp_with_time_zone(MemberConsents::UpdateTime))
                .primary_key(
                    Index::create()
                        .col(MemberConsents::CustomerId)
                        .col(MemberConsents::Channel),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "member_consents_granted",
            MemberConsents::Table,
            &["channel", "granted", "customer_id"],
        ))
        .await?;

        // One row per purchase (positive amount) or refund (negative), by activity id, so a
        // redelivered event or a rebuild writes nothing twice.
        m.create_table(
            Table::create()
                .table(MemberOrders::Table)
                .col(pk_uuid(MemberOrders::ActivityId))
                .col(uuid(MemberOrders::CustomerId))
                .col(timestamp_with_time_zone(MemberOrders::OccurTime))
                .col(string_len(MemberOrders::CurrencyCode, 3).default(""))
                .col(big_integer(MemberOrders::AmountMinor).default(0))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "member_orders_customer",
            MemberOrders::Table,
            &["customer_id", "occur_time"],
        ))
        .await?;

        // The items of a purchase (customer and time copied so a condition is one index scan).
        m.create_table(
            Table::create()
                .table(MemberOrderItems::Table)
                .col(uuid(MemberOrderItems::ActivityId))
                .col(string_len(MemberOrderItems::ItemId, 128))
                .col(uuid(MemberOrderItems::CustomerId))
                .col(timestamp_with_time_zone(MemberOrderItems::OccurTime))
                .col(integer(MemberOrderItems::Quantity))
                .primary_key(
                    Index::create()
                        .col(MemberOrderItems::ActivityId)
                        .col(MemberOrderItems::ItemId),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "member_order_items_item",
            MemberOrderItems::Table,
            &["item_id", "customer_id", "occur_time"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(MemberTickets::Table)
                .col(pk_uuid(MemberTickets::TicketId))
                .col(uuid(MemberTickets::CustomerId))
                // crm.tickets.v1.Category number.
                .col(integer(MemberTickets::Category))
                .col(boolean(MemberTickets::Open))
                .col(timestamp_with_time_zone(MemberTickets::UpdateTime))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "member_tickets_customer",
            MemberTickets::Table,
            &["customer_id", "category", "open"],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "member_tickets",
            "member_order_items",
            "member_orders",
            "member_consents",
            "member_dates",
            "member_attributes",
            "member_tags",
            "members",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
