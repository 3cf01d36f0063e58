//! Customers, their search keys (contacts, tags), activities and audit log.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
    DisplayName,
    FullNameKey,
    BirthDate,
    PrimaryEmail,
    ExternalId,
    LifecycleStage,
    State,
    MergedInto,
    Profile,
    Revision,
    CreateTime,
    UpdateTime,
    DeleteTime,
}

#[derive(DeriveIden)]
enum CustomerContacts {
    Table,
    CustomerId,
    Kind,
    Value,
}

#[derive(DeriveIden)]
enum CustomerTags {
    Table,
    CustomerId,
    Tag,
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    Id,
    CustomerId,
    Kind,
    OccurTime,
    Currency,
    AmountMinor,
    Data,
    CreateTime,
}

#[derive(DeriveIden)]
enum CustomerAudit {
    Table,
    Id,
    CustomerId,
    Action,
    Actor,
    Details,
    CreateTime,
}

use crm_platform::db::index;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Customers::Table)
                .col(pk_uuid(Customers::Id))
                .col(string(Customers::DisplayName))
                .col(string(Customers::FullNameKey))
                .col(date_null(Customers::BirthDate))
                .col(string_null(Customers::PrimaryEmail))
                .col(string_null(Customers::ExternalId).unique_key())
                .col(string(Customers::LifecycleStage))
                .col(string(Customers::State))
                .col(uuid_null(Customers::MergedInto))
                .col(json(Customers::Profile))
                .col(big_integer(Customers::Revision))
                .col(timestamp_with_time_zone(Customers::CreateTime))
                .col(timestamp_with_time_zone(Customers::UpdateTime))
                .col(timestamp_with_time_zone_null(Customers::DeleteTime))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_customers_create",
            Customers::Table,
            vec![Customers::CreateTime.into_iden(), Customers::Id.into_iden()],
        ))
        .await?;
        m.create_index(index(
            "idx_customers_update",
            Customers::Table,
            vec![Customers::UpdateTime.into_iden(), Customers::Id.into_iden()],
        ))
        .await?;
        m.create_index(index(
            "idx_customers_name",
            Customers::Table,
            vec![
                Customers::DisplayName.into_iden(),
                Customers::Id.into_iden(),
            ],
        ))
        .await?;
        m.create_index(index(
            "idx_customers_merged_into",
            Customers::Table,
            vec![Customers::MergedInto.into_iden()],
        ))
        .await?;
        m.create_index(index(
            "idx_customers_email",
            Customers::Table,
            vec![Customers::PrimaryEmail.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(CustomerContacts::Table)
                .col(uuid(CustomerContacts::CustomerId))
                .col(string(CustomerContacts::Kind))
                .col(string(CustomerContacts::Value))
                .primary_key(
                    Index::create()
                        .col(CustomerContacts::CustomerId)
                        .col(CustomerContacts::Kind)
                        .col(CustomerContacts::Value),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_contacts_lookup",
            CustomerContacts::Table,
            vec![
                CustomerContacts::Kind.into_iden(),
                CustomerContacts::Value.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(CustomerTags::Table)
                .col(uuid(CustomerTags::CustomerId))
                .col(string(CustomerTags::Tag))
                .primary_key(
                    Index::create()
                        .col(CustomerTags::CustomerId)
                        .col(CustomerTags::Tag),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_tags_tag",
            CustomerTags::Table,
            vec![
                CustomerTags::Tag.into_iden(),
                CustomerTags::CustomerId.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Activities::Table)
                .col(pk_uuid(Activities::Id))
                .col(uuid(Activities::CustomerId))
                .col(string(Activities::Kind))
                .col(timestamp_with_time_zone(Activities::OccurTime))
                .col(string_null(Activities::Currency))
                .col(big_integer_null(Activities::AmountMinor))
                .col(json(Activities::Data))
                .col(timestamp_with_time_zone(Activities::CreateTime))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_activities_customer_time",
            Activities::Table,
            vec![
                Activities::CustomerId.into_iden(),
                Activities::OccurTime.into_iden(),
                Activities::Id.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(CustomerAudit::Table)
                .col(pk_uuid(CustomerAudit::Id))
                .col(uuid(CustomerAudit::CustomerId))
                .col(string(CustomerAudit::Action))
                .col(string(CustomerAudit::Actor))
                .col(text(CustomerAudit::Details))
                .col(timestamp_with_time_zone(CustomerAudit::CreateTime))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_audit_customer",
            CustomerAudit::Table,
            vec![
                CustomerAudit::CustomerId.into_iden(),
                CustomerAudit::CreateTime.into_iden(),
            ],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            CustomerAudit::Table.into_iden(),
            Activities::Table.into_iden(),
            CustomerTags::Table.into_iden(),
            CustomerContacts::Table.into_iden(),
            Customers::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
