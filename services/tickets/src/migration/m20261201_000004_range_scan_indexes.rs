//! Every list, job work list and stats window is an ordered index range (issue 10). Each
//! ListTickets filter column has an index leading with it and then (create_time, id), the
//! page order, so any filter combination reads one range in order (the other filters are
//! checked on the rows of that range); the unfiltered list and the stats windows read
//! (create_time, id). A team's agents are read in id order, and in each routing order
//! (never-assigned first: `NULLS FIRST`, SQLite's ascending default, spelled out on
//! PostgreSQL); owed goodwill is read in answer order.
//! The indexes these replace are each a prefix of a new one.
use crm_platform::db::{drop_index, index_named};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table, columns) of each new index.
const NEW: &[(&str, &str, &[&str])] = &[
    ("idx_tickets_create_id", "tickets", &["create_time", "id"]),
    (
        "idx_tickets_status_create",
        "tickets",
        &["status", "create_time", "id"],
    ),
    (
        "idx_tickets_priority_create",
        "tickets",
        &["priority", "create_time", "id"],
    ),
    (
        "idx_tickets_team_create",
        "tickets",
        &["team_id", "create_time", "id"],
    ),
    (
        "idx_tickets_team_status_create",
        "tickets",
        &["team_id", "status", "create_time", "id"],
    ),
    (
        "idx_tickets_assignee_create",
        "tickets",
        &["assignee_id", "create_time", "id"],
    ),
    (
        "idx_tickets_customer_create",
        "tickets",
        &["customer_id", "create_time", "id"],
    ),
    (
        "idx_tickets_channel_create",
        "tickets",
        &["channel", "create_time", "id"],
    ),
    (
        "idx_tickets_category_create",
        "tickets",
        &["category", "create_time", "id"],
    ),
    (
        "idx_tickets_sla_state_create",
        "tickets",
        &["sla_state", "create_time", "id"],
    ),
    (
        "idx_tickets_check_create",
        "tickets",
        &["customer_check", "create_time", "id"],
    ),
    ("idx_agents_team_id", "agents", &["team_id", "id"]),
    (
        "idx_survey_answers_goodwill_time",
        "survey_answers",
        &["goodwill_pending", "submit_time"],
    ),
];

/// (name, table, columns) of each index a new one makes redundant.
const REPLACED: &[(&str, &str, &[&str])] = &[
    ("idx_tickets_create", "tickets", &["create_time"]),
    ("idx_tickets_status", "tickets", &["status", "create_time"]),
    (
        "idx_tickets_team_status",
        "tickets",
        &["team_id", "status", "create_time"],
    ),
    ("idx_tickets_assignee", "tickets", &["assignee_id"]),
    ("idx_tickets_customer", "tickets", &["customer_id"]),
    ("idx_tickets_check", "tickets", &["customer_check"]),
    ("idx_agents_team", "agents", &["team_id"]),
    (
        "idx_survey_answers_goodwill_pending",
        "survey_answers",
        &["goodwill_pending"],
    ),
];

/// Routing's orders over a team's available agents: (name, columns before the last assigned
/// time). Written as SQL: the index column needs `NULLS FIRST` on PostgreSQL.
const ROUTING: &[(&str, &str)] = &[
    ("idx_agents_team_last_assigned", "team_id, available"),
    ("idx_agents_team_load", "team_id, available, open_tickets"),
];

fn routing_index(backend: DbBackend, name: &str, lead: &str) -> String {
    let nulls = match backend {
        DbBackend::Postgres => " NULLS FIRST",
        _ => "",
    };
    format!("CREATE INDEX {name} ON agents ({lead}, last_assigned{nulls}, id)")
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in NEW {
            m.create_index(index_named(name, table, cols)).await?;
        }
        let backend = m.get_database_backend();
        for (name, lead) in ROUTING {
            m.get_connection()
                .execute_unprepared(&routing_index(backend, name, lead))
                .await?;
        }
        for (name, table, _) in REPLACED {
            m.drop_index(drop_index(name, table)).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in REPLACED {
            m.create_index(index_named(name, table, cols)).await?;
        }
        for (name, _) in ROUTING {
            m.drop_index(drop_index(name, "agents")).await?;
        }
        for (name, table, _) in NEW {
            m.drop_index(drop_index(name, table)).await?;
        }
        Ok(())
    }
}
