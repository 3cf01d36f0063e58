//! GetModel counts the interactions recorded since the build (`record_time` after the
//! newest the build read): an index, so that count is a range scan, not a table scan.
use crm_platform::db::{drop_index, index_named};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(index_named(
            "interactions_record_time",
            "interactions",
            &["record_time"],
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(drop_index("interactions_record_time", "interactions"))
            .await
    }
}
