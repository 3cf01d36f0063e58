//! When each segment was last evaluated in full, and at which revision: the membership job
//! evaluates a new or changed segment at once and every segment again after
//! `full_evaluation_secs` (time-relative rules), whichever replica gets there.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Segments {
    Table,
    EvaluatedRevision,
    EvaluateTime,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        m.alter_table(
            Table::alter()
                .table(Segments::Table)
                .add_column(big_integer_null(Segments::EvaluatedRevision))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Segments::Table)
                .add_column(timestamp_with_time_zone_null(Segments::EvaluateTime))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [Segments::EvaluateTime, Segments::EvaluatedRevision] {
            m.alter_table(
                Table::alter()
                    .table(Segments::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
