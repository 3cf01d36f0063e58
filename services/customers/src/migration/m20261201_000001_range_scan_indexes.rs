//! Every list and search is an index range scan (issue 10): activities of one kind have their
//! own (customer, kind, time) index; tag rows carry copies of the
//! lifecycle stage and the sort keys so a tag-filtered page (with or without a stage) is read in
//! order from one index; the lifecycle-stage filter has an index per order; contacts are indexed by (kind, value, customer) for exact and prefix
//! search in customer order; on PostgreSQL, contact values compare bytewise ("C" collation) so
//! a prefix is the range [prefix, prefix_upper) whatever the database's default collation.
use crm_platform::db::{drop_index, index, index_named};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
    DisplayName,
    LifecycleStage,
    MergedInto,
    CreateTime,
    UpdateTime,
}

#[derive(DeriveIden, Clone, Copy)]
enum CustomerTags {
    Table,
    CustomerId,
    Tag,
    LifecycleStage,
    CreateTime,
    UpdateTime,
    DisplayName,
}

#[derive(DeriveIden)]
enum CustomerContacts {
    Table,
    CustomerId,
    Kind,
    Value,
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    Id,
    CustomerId,
    Kind,
    OccurTime,
}

#[derive(DeriveIden)]
enum CustomerAudit {
    Table,
    Id,
    CustomerId,
    CreateTime,
}

/// The indexes this migration adds (named in `NEW_NAMES`).
fn new_indexes() -> Vec<IndexCreateStatement> {
    let mut out = Vec::new();
    for (suffix, order) in [
        ("create", Customers::CreateTime),
        ("update", Customers::UpdateTime),
        ("name", Customers::DisplayName),
    ] {
        out.push(index(
            &format!("idx_customers_stage_{suffix}"),
            Customers::Table,
            vec![
                Customers::LifecycleStage.into_iden(),
                order.into_iden(),
                Customers::Id.into_iden(),
            ],
        ));
    }
    for (suffix, order) in [
        ("create", CustomerTags::CreateTime),
        ("update", CustomerTags::UpdateTime),
        ("name", CustomerTags::DisplayName),
    ] {
        out.push(index(
            &format!("idx_tags_{suffix}"),
            CustomerTags::Table,
            vec![
                CustomerTags::Tag.into_iden(),
                order.into_iden(),
                CustomerTags::CustomerId.into_iden(),
            ],
        ));
        out.push(index(
            &format!("idx_tags_stage_{suffix}"),
            CustomerTags::Table,
            vec![
                CustomerTags::Tag.into_iden(),
                CustomerTags::LifecycleStage.into_iden(),
                order.into_iden(),
                CustomerTags::CustomerId.into_iden(),
            ],
        ));
    }
    out.push(index(
        "idx_contacts_kind_value_customer",
        CustomerContacts::Table,
        vec![
            CustomerContacts::Kind.into_iden(),
            CustomerContacts::Value.into_iden(),
            CustomerContacts::CustomerId.into_iden(),
        ],
    ));
    out.push(index(
        "idx_activities_customer_kind_time",
        Activities::Table,
        vec![
            Activities::CustomerId.into_iden(),
            Activities::Kind.into_iden(),
            Activities::OccurTime.into_iden(),
            Activities::Id.into_iden(),
        ],
    ));
    out.push(index(
        "idx_audit_customer_time_id",
        CustomerAudit::Table,
        vec![
            CustomerAudit::CustomerId.into_iden(),
            CustomerAudit::CreateTime.into_iden(),
            CustomerAudit::Id.into_iden(),
        ],
    ));
    out.push(index(
        "idx_customers_merged_into_id",
        Customers::Table,
        vec![Customers::MergedInto.into_iden(), Customers::Id.into_iden()],
    ));
    out
}

const NEW_NAMES: [&str; 13] = [
    "idx_activities_customer_kind_time",
    "idx_tags_stage_create",
    "idx_tags_stage_update",
    "idx_tags_stage_name",
    "idx_customers_stage_create",
    "idx_customers_stage_update",
    "idx_customers_stage_name",
    "idx_tags_create",
    "idx_tags_update",
    "idx_tags_name",
    "idx_contacts_kind_value_customer",
    "idx_audit_customer_time_id",
    "idx_customers_merged_into_id",
];

/// Indexes the new ones make redundant (each is a prefix of a new one).
const REPLACED: [(&str, &str); 4] = [
    ("idx_contacts_lookup", "customer_contacts"),
    ("idx_tags_tag", "customer_tags"),
    ("idx_audit_customer", "customer_audit"),
    ("idx_customers_merged_into", "customers"),
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        let db = m.get_connection();
        for col in [
            string_null(CustomerTags::LifecycleStage),
            timestamp_with_time_zone_null(CustomerTags::CreateTime),
            timestamp_with_time_zone_null(CustomerTags::UpdateTime),
            string_null(CustomerTags::DisplayName),
        ] {
            let mut col = col;
            m.alter_table(
                Table::alter()
                    .table(CustomerTags::Table)
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        db.execute_unprepared(
            "UPDATE customer_tags SET \
               lifecycle_stage = (SELECT c.lifecycle_stage FROM customers c WHERE c.id = customer_tags.customer_id), \
               create_time = (SELECT c.create_time FROM customers c WHERE c.id = customer_tags.customer_id), \
               update_time = (SELECT c.update_time FROM customers c WHERE c.id = customer_tags.customer_id), \
               display_name = (SELECT c.display_name FROM customers c WHERE c.id = customer_tags.customer_id)",
        )
        .await?;
        if backend == DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE customer_contacts ALTER COLUMN value TYPE varchar COLLATE \"C\"",
            )
            .await?;
        }
        for i in new_indexes() {
            m.create_index(i).await?;
        }
        for (name, table) in REPLACED {
            m.drop_index(drop_index(name, table)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in [
            (
                "idx_contacts_lookup",
                "customer_contacts",
                &["kind", "value"][..],
            ),
            ("idx_tags_tag", "customer_tags", &["tag", "customer_id"][..]),
            (
                "idx_audit_customer",
                "customer_audit",
                &["customer_id", "create_time"][..],
            ),
            (
                "idx_customers_merged_into",
                "customers",
                &["merged_into"][..],
            ),
        ] {
            m.create_index(index_named(name, table, cols)).await?;
        }
        for name in NEW_NAMES {
            let table = if name.starts_with("idx_customers") {
                "customers"
            } else if name.starts_with("idx_tags") {
                "customer_tags"
            } else if name.starts_with("idx_contacts") {
                "customer_contacts"
            } else if name.starts_with("idx_activities") {
                "activities"
            } else {
                "customer_audit"
            };
            m.drop_index(drop_index(name, table)).await?;
        }
        for col in [
            CustomerTags::LifecycleStage,
            CustomerTags::CreateTime,
            CustomerTags::UpdateTime,
            CustomerTags::DisplayName,
        ] {
            m.alter_table(
                Table::alter()
                    .table(CustomerTags::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
