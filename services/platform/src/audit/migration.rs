//! The `access_records` table; a service that records accesses lists
//! [`CreateAccessRecords`] in its `migrator!`.
use crate::db::index;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{pk_uuid, string, timestamp_with_time_zone, uuid_null};

#[derive(DeriveIden)]
enum AccessRecords {
    Table,
    Id,
    RecordTime,
    Subject,
    Method,
    Resource,
    CustomerId,
    Action,
    Detail,
}

/// One row per recorded access, never updated, kept after the customer's erasure.
pub struct CreateAccessRecords;

impl MigrationName for CreateAccessRecords {
    fn name(&self) -> &str {
        "m20261202_100000_create_access_records"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for CreateAccessRecords {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AccessRecords::Table)
                .if_not_exists()
                .col(pk_uuid(AccessRecords::Id))
                .col(timestamp_with_time_zone(AccessRecords::RecordTime))
                .col(string(AccessRecords::Subject))
                .col(string(AccessRecords::Method))
                .col(string(AccessRecords::Resource))
                .col(uuid_null(AccessRecords::CustomerId))
                .col(string(AccessRecords::Action))
                .col(string(AccessRecords::Detail))
                .to_owned(),
        )
        .await?;
        // The list's orders: all records by time, one customer's, one caller's (newest first,
        // the id breaking ties).
        let by_time = || {
            vec![
                AccessRecords::RecordTime.into_iden(),
                AccessRecords::Id.into_iden(),
            ]
        };
        m.create_index(index(
            "idx_access_records_time",
            AccessRecords::Table,
            by_time(),
        ))
        .await?;
        let mut customer = vec![AccessRecords::CustomerId.into_iden()];
        customer.extend(by_time());
        m.create_index(index(
            "idx_access_records_customer",
            AccessRecords::Table,
            customer,
        ))
        .await?;
        let mut subject = vec![AccessRecords::Subject.into_iden()];
        subject.extend(by_time());
        m.create_index(index(
            "idx_access_records_subject",
            AccessRecords::Table,
            subject,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AccessRecords::Table).to_owned())
            .await
    }
}
