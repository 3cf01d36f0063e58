//! Segments (saved rule trees and their tracked members), campaigns and their deliveries.
//! A delivery is one recipient of one campaign step: the unique key (campaign, step,
//! customer) is what makes a send happen once across replicas and restarts, and the row is
//! also the send outbox (state QUEUED with its sealed, rendered message).
use super::index;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Segments {
    Table,
    Id,
    DisplayName,
    Description,
    // The rule tree as JSON (domain::segment::Rule).
    Rule,
    MemberCount,
    Revision,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden)]
enum SegmentMembers {
    Table,
    SegmentId,
    CustomerId,
    EnterTime,
}

#[derive(DeriveIden)]
enum Campaigns {
    Table,
    Id,
    DisplayName,
    State,
    SegmentId,
    Channel,
    Transactional,
    ThrottlePerSecond,
    // Goal, exclusions, variants, schedule, coupon code as JSON (domain::campaign::Spec).
    Spec,
    // When the audience is chosen (the schedule's time; for local schedules the earliest
    // time zone's): the start job picks SCHEDULED campaigns whose start_at has come.
    StartAt,
    // The audience has been written as deliveries (paged; resumed after a restart).
    AudienceCursor,
    AudienceDone,
    Revision,
    CreateTime,
    UpdateTime,
    StartTime,
    EndTime,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    CampaignId,
    Step,
    CustomerId,
    Variant,
    Channel,
    Transactional,
    State,
    Reason,
    Detail,
    DueTime,
    LeaseUntil,
    SendTime,
    Attempts,
    ReceiptTime,
    // Sealed rendered message (address, subject, body) while QUEUED; cleared once sent.
    Message,
    PiiKey,
    UpdateTime,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Segments::Table)
                .col(pk_uuid(Segments::Id))
                .col(string_len(Segments::DisplayName, 200))
                .col(text(Segments::Description))
                .col(text(Segments::Rule))
                .col(big_integer(Segments::MemberCount).default(0))
                .col(big_integer(Segments::Revision))
                .col(timestamp_with_time_zone(Segments::CreateTime))
                .col(timestamp_with_time_zone(Segments::UpdateTime))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SegmentMembers::Table)
                .col(uuid(SegmentMembers::SegmentId))
                .col(uuid(SegmentMembers::CustomerId))
                .col(timestamp_with_time_zone(SegmentMembers::EnterTime))
                .primary_key(
                    Index::create()
                        .col(SegmentMembers::SegmentId)
                        .col(SegmentMembers::CustomerId),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "segment_members_customer",
            SegmentMembers::Table,
            &["customer_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Campaigns::Table)
                .col(pk_uuid(Campaigns::Id))
                .col(string_len(Campaigns::DisplayName, 200))
                .col(string_len(Campaigns::State, 16))
                .col(uuid(Campaigns::SegmentId))
                .col(integer(Campaigns::Channel))
                .col(boolean(Campaigns::Transactional))
                .col(integer(Campaigns::ThrottlePerSecond))
                .col(text(Campaigns::Spec))
                .col(timestamp_with_time_zone_null(Campaigns::StartAt))
                .col(uuid_null(Campaigns::AudienceCursor))
                .col(boolean(Campaigns::AudienceDone).default(false))
                .col(big_integer(Campaigns::Revision))
                .col(timestamp_with_time_zone(Campaigns::CreateTime))
                .col(timestamp_with_time_zone(Campaigns::UpdateTime))
                .col(timestamp_with_time_zone_null(Campaigns::StartTime))
                .col(timestamp_with_time_zone_null(Campaigns::EndTime))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "campaigns_state",
            Campaigns::Table,
            &["state", "start_at"],
        ))
        .await?;
        m.create_index(index(
            "campaigns_segment",
            Campaigns::Table,
            &["segment_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Deliveries::Table)
                .col(pk_uuid(Deliveries::Id))
                .col(uuid(Deliveries::CampaignId))
                .col(integer(Deliveries::Step))
                .col(uuid(Deliveries::CustomerId))
                .col(string_len(Deliveries::Variant, 32))
                .col(integer(Deliveries::Channel))
                .col(boolean(Deliveries::Transactional))
                .col(string_len(Deliveries::State, 16))
                .col(integer(Deliveries::Reason).default(0))
                .col(string_len(Deliveries::Detail, 500).default(""))
                .col(timestamp_with_time_zone(Deliveries::DueTime))
                .col(timestamp_with_time_zone_null(Deliveries::LeaseUntil))
                .col(timestamp_with_time_zone_null(Deliveries::SendTime))
                .col(integer(Deliveries::Attempts).default(0))
                .col(timestamp_with_time_zone_null(Deliveries::ReceiptTime))
                .col(blob_null(Deliveries::Message))
                .col(string_len_null(Deliveries::PiiKey, 64))
                .col(timestamp_with_time_zone(Deliveries::UpdateTime))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "deliveries_recipient",
                Deliveries::Table,
                &["campaign_id", "step", "customer_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        for (name, cols) in [
            // The dispatcher's and the sender's queues.
            ("deliveries_due", &["state", "due_time"][..]),
            // Frequency caps: a customer's sends on a channel in a window.
            (
                "deliveries_caps",
                &["customer_id", "channel", "send_time"][..],
            ),
            // Stats and lists of one campaign.
            ("deliveries_campaign_state", &["campaign_id", "state"][..]),
        ] {
            m.create_index(index(name, Deliveries::Table, cols)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["deliveries", "campaigns", "segment_members", "segments"] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned())
                .await?;
        }
        Ok(())
    }
}
