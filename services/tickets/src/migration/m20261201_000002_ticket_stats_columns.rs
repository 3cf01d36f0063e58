//! The figures GetTicketStats aggregates in SQL, as columns: first-response and resolution
//! times (wall clock and business seconds, computed on write with the configured calendar),
//! and whether the ticket was merged away. Rows written before this migration have
//! `columns_version` 0; the service fills their columns in pages at start-up
//! (`TicketsService::backfill_ticket_columns`).
use crm_platform::db::index;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    FirstResponseSeconds,
    FirstResponseBusinessSeconds,
    ResolutionSeconds,
    ResolutionBusinessSeconds,
    Merged,
    ColumnsVersion,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        let durations = [
            Tickets::FirstResponseSeconds,
            Tickets::FirstResponseBusinessSeconds,
            Tickets::ResolutionSeconds,
            Tickets::ResolutionBusinessSeconds,
        ];
        for c in durations {
            m.alter_table(
                Table::alter()
                    .table(Tickets::Table)
                    .add_column(big_integer_null(c))
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Tickets::Table)
                .add_column(boolean(Tickets::Merged).default(false))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tickets::Table)
                .add_column(integer(Tickets::ColumnsVersion).default(0))
                .to_owned(),
        )
        .await?;
        // Percentiles read the value at an offset in the column's order.
        for (name, col) in [
            (
                "idx_tickets_first_response_secs",
                Tickets::FirstResponseSeconds,
            ),
            (
                "idx_tickets_first_response_bsecs",
                Tickets::FirstResponseBusinessSeconds,
            ),
            ("idx_tickets_resolution_secs", Tickets::ResolutionSeconds),
            (
                "idx_tickets_resolution_bsecs",
                Tickets::ResolutionBusinessSeconds,
            ),
            ("idx_tickets_columns_version", Tickets::ColumnsVersion),
        ] {
            m.create_index(index(name, Tickets::Table, vec![col.into_iden()]))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "idx_tickets_first_response_secs",
            "idx_tickets_first_response_bsecs",
            "idx_tickets_resolution_secs",
            "idx_tickets_resolution_bsecs",
            "idx_tickets_columns_version",
        ] {
            m.drop_index(Index::drop().name(name).table(Tickets::Table).to_owned())
                .await?;
        }
        for c in [
            Tickets::FirstResponseSeconds,
            Tickets::FirstResponseBusinessSeconds,
            Tickets::ResolutionSeconds,
            Tickets::ResolutionBusinessSeconds,
            Tickets::Merged,
            Tickets::ColumnsVersion,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Tickets::Table)
                    .drop_column(c)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
