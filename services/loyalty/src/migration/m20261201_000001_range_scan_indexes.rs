//! Every list and job page is an ordered index range (issue 10). A customer's transactions
//! are read in chain order (sequence) by the chain index, time bounds checked on that range;
//! the (customer, create time) index only ever led SQLite to sort a customer's window, so it
//! goes. Tier history is paged by id; the expiry run reads due lots from a partial index of
//! live lots (`remaining > 0`: a lot leaves it when used up or expired) and due holds in
//! (state, expire time, id) order, so it reads its work and nothing else.
use crm_platform::db::{drop_index, index_named};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table, columns) of each new plain index.
const NEW: &[(&str, &str, &[&str])] = &[
    (
        "idx_loyalty_tier_changes_id",
        "loyalty_tier_changes",
        &["customer_id", "id"],
    ),
    (
        "idx_loyalty_holds_due",
        "loyalty_holds",
        &["state", "expire_time", "id"],
    ),
];

/// The partial index of live lots, in due order (the same statement on both backends).
const LOTS_DUE: &str =
    "CREATE INDEX idx_loyalty_lots_due ON loyalty_lots (expire_time, id) WHERE remaining > 0";

/// (name, table, columns) of each index this migration drops.
const DROPPED: &[(&str, &str, &[&str])] = &[
    (
        "idx_loyalty_tx_time",
        "loyalty_transactions",
        &["customer_id", "create_time"],
    ),
    (
        "idx_loyalty_tier_changes",
        "loyalty_tier_changes",
        &["customer_id", "change_time"],
    ),
    (
        "idx_loyalty_lots_expiry",
        "loyalty_lots",
        &["expire_time", "remaining"],
    ),
    (
        "idx_loyalty_holds_expiry",
        "loyalty_holds",
        &["state", "expire_time"],
    ),
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in NEW {
            m.create_index(index_named(name, table, cols)).await?;
        }
        m.get_connection().execute_unprepared(LOTS_DUE).await?;
        for (name, table, _) in DROPPED {
            m.drop_index(drop_index(name, table)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in DROPPED {
            m.create_index(index_named(name, table, cols)).await?;
        }
        m.drop_index(drop_index("idx_loyalty_lots_due", "loyalty_lots"))
            .await?;
        for (name, table, _) in NEW {
            m.drop_index(drop_index(name, table)).await?;
        }
        Ok(())
    }
}
