//! The whole first schema: the catalogue, interactions, customer profiles for cold start,
//! the published models (neighbours, rules, popularity per scope) and the served
//! recommendations with their feedback. JSON columns are text (the same on SQLite and
//! PostgreSQL); nothing queries inside them.
use super::index;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Items {
    Table,
    Id,
    Title,
    Category,
    Tags,
    Attributes,
    NumericAttributes,
    Availability,
    BookableFrom,
    BookableUntil,
    Revision,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden)]
enum Interactions {
    Table,
    Id,
    SourceKey,
    CustomerId,
    ItemId,
    Kind,
    Weight,
    Rating,
    Quantity,
    BasketId,
    OccurTime,
    RecordTime,
}

#[derive(DeriveIden)]
enum Profiles {
    Table,
    CustomerId,
    LanguageCode,
    City,
    Tier,
    Tags,
    Stale,
    UpdateTime,
}

#[derive(DeriveIden)]
enum ModelVersions {
    Table,
    Version,
    Similarity,
    BuildTime,
    BuildDurationMs,
    InteractionCount,
    CustomerCount,
    ItemCount,
    LastInteractionRecordTime,
}

#[derive(DeriveIden)]
enum ItemModels {
    Table,
    Version,
    ItemId,
    Neighbours,
    Rules,
}

#[derive(DeriveIden)]
enum PopularLists {
    Table,
    Version,
    Scope,
    Items,
}

#[derive(DeriveIden)]
enum Recommendations {
    Table,
    Id,
    CustomerId,
    Method,
    Scenario,
    Items,
    ModelVersion,
    CreateTime,
}

#[derive(DeriveIden)]
enum Feedback {
    Table,
    RecommendationId,
    ItemId,
    Kind,
    OccurTime,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The catalogue: the caller's item id is the key.
        m.create_table(
            Table::create()
                .table(Items::Table)
                .col(string_len(Items::Id, 128).primary_key())
                .col(text(Items::Title))
                .col(string_len(Items::Category, 600))
                // JSON arrays / objects.
                .col(text(Items::Tags))
                .col(text(Items::Attributes))
                .col(text(Items::NumericAttributes))
                .col(small_integer(Items::Availability))
                .col(timestamp_with_time_zone_null(Items::BookableFrom))
                .col(timestamp_with_time_zone_null(Items::BookableUntil))
                .col(big_integer(Items::Revision))
                .col(timestamp_with_time_zone(Items::CreateTime))
                .col(timestamp_with_time_zone(Items::UpdateTime))
                .to_owned(),
        )
        .await?;
        m.create_index(index("items_category", Items::Table, &["category", "id"]))
            .await?;

        // Interactions: one row per customer action on an item. `source_key` deduplicates
        // (an event id, or the caller's interaction_id); ids are UUIDv7 so the id order is
        // the recording order, which the build reads in pages.
        m.create_table(
            Table::create()
                .table(Interactions::Table)
                .col(pk_uuid(Interactions::Id))
                .col(string_len(Interactions::SourceKey, 300).unique_key())
                .col(uuid(Interactions::CustomerId))
                .col(string_len(Interactions::ItemId, 128))
                .col(small_integer(Interactions::Kind))
                .col(double(Interactions::Weight))
                .col(small_integer(Interactions::Rating))
                .col(integer(Interactions::Quantity))
                .col(string_len(Interactions::BasketId, 300))
                .col(timestamp_with_time_zone(Interactions::OccurTime))
                .col(timestamp_with_time_zone(Interactions::RecordTime))
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            // A customer's recent history, newest first (serving).
            (
                "interactions_customer_time",
                &["customer_id", "occur_time"][..],
            ),
            // Who interacted with an item (cold-start fallbacks, deletes).
            ("interactions_item", &["item_id"][..]),
        ] {
            m.create_index(index(name, Interactions::Table, cols))
                .await?;
        }

        // What cold start knows of a customer, kept from events and customers' answers.
        m.create_table(
            Table::create()
                .table(Profiles::Table)
                .col(pk_uuid(Profiles::CustomerId))
                .col(string_len(Profiles::LanguageCode, 64).default(""))
                .col(string_len(Profiles::City, 200).default(""))
                .col(string_len(Profiles::Tier, 64).default(""))
                // JSON array of the customer's tags.
                .col(text(Profiles::Tags))
                .col(boolean(Profiles::Stale).default(true))
                .col(timestamp_with_time_zone(Profiles::UpdateTime))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "profiles_stale",
            Profiles::Table,
            &["stale", "customer_id"],
        ))
        .await?;

        // Published models; serving reads the highest version.
        m.create_table(
            Table::create()
                .table(ModelVersions::Table)
                .col(big_integer(ModelVersions::Version).primary_key())
                .col(string_len(ModelVersions::Similarity, 16))
                .col(timestamp_with_time_zone(ModelVersions::BuildTime))
                .col(big_integer(ModelVersions::BuildDurationMs))
                .col(big_integer(ModelVersions::InteractionCount))
                .col(big_integer(ModelVersions::CustomerCount))
                .col(big_integer(ModelVersions::ItemCount))
                // The newest interaction the build read: later ones are "pending".
                .col(timestamp_with_time_zone_null(
                    ModelVersions::LastInteractionRecordTime,
                ))
                .to_owned(),
        )
        .await?;

        // Per version and item: its top-K neighbours and association rules (JSON lists).
        m.create_table(
            Table::create()
                .table(ItemModels::Table)
                .col(big_integer(ItemModels::Version))
                .col(string_len(ItemModels::ItemId, 128))
                .col(text(ItemModels::Neighbours))
                .col(text(ItemModels::Rules))
                .primary_key(
                    Index::create()
                        .col(ItemModels::Version)
                        .col(ItemModels::ItemId),
                )
                .to_owned(),
        )
        .await?;

        // Per version and scope ("", "category:{path}", "cohort:{kind}:{value}"): the top
        // items by time-decayed popularity (JSON list).
        m.create_table(
            Table::create()
                .table(PopularLists::Table)
                .col(big_integer(PopularLists::Version))
                .col(string_len(PopularLists::Scope, 700))
                .col(text(PopularLists::Items))
                .primary_key(
                    Index::create()
                        .col(PopularLists::Version)
                        .col(PopularLists::Scope),
                )
                .to_owned(),
        )
        .await?;

        // Served answers, for RecordFeedback's attribution (purged after a retention).
        m.create_table(
            Table::create()
                .table(Recommendations::Table)
                .col(pk_uuid(Recommendations::Id))
                .col(uuid_null(Recommendations::CustomerId))
                // "for_customer", "similar", "bought_together", "popular".
                .col(string_len(Recommendations::Method, 32))
                .col(string_len(Recommendations::Scenario, 64))
                // JSON array of the item ids served, in order.
                .col(text(Recommendations::Items))
                .col(big_integer(Recommendations::ModelVersion))
                .col(timestamp_with_time_zone(Recommendations::CreateTime))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "recommendations_create_time",
            Recommendations::Table,
            &["create_time"],
        ))
        .await?;
        m.create_index(index(
            "recommendations_customer",
            Recommendations::Table,
            &["customer_id"],
        ))
        .await?;

        // One outcome per (recommendation, item, kind): a repeat changes nothing.
        m.create_table(
            Table::create()
                .table(Feedback::Table)
                .col(uuid(Feedback::RecommendationId))
                .col(string_len(Feedback::ItemId, 128))
                .col(small_integer(Feedback::Kind))
                .col(timestamp_with_time_zone(Feedback::OccurTime))
                .primary_key(
                    Index::create()
                        .col(Feedback::RecommendationId)
                        .col(Feedback::ItemId)
                        .col(Feedback::Kind),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Feedback::Table.into_iden(),
            Recommendations::Table.into_iden(),
            PopularLists::Table.into_iden(),
            ItemModels::Table.into_iden(),
            ModelVersions::Table.into_iden(),
            Profiles::Table.into_iden(),
            Interactions::Table.into_iden(),
            Items::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
