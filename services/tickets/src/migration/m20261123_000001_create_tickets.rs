//! Tickets and their messages, teams, agents, macros, satisfaction answers and SLA events.
//! Rows carry the columns that are filtered, locked or updated conditionally; the rest of a
//! record is one JSON document (`doc`) written whole with the row.
use crm_platform::db::index;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    CustomerId,
    Status,
    Priority,
    Channel,
    Category,
    TeamId,
    AssigneeId,
    SlaState,
    CustomerCheck,
    NextCheck,
    CreateTime,
    UpdateTime,
    Revision,
    Doc,
}

#[derive(DeriveIden)]
enum TicketMessages {
    Table,
    Id,
    TicketId,
    OriginTicketId,
    Kind,
    CreateTime,
    Doc,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
    CreateTime,
    Revision,
    Doc,
}

#[derive(DeriveIden)]
enum TeamClaims {
    Table,
    Claim,
    TeamId,
}

#[derive(DeriveIden)]
enum Agents {
    Table,
    Id,
    TeamId,
    OpenTickets,
    MaxOpenTickets,
    Available,
    LastAssigned,
    CreateTime,
    Revision,
    Doc,
}

#[derive(DeriveIden)]
enum Macros {
    Table,
    Code,
    CreateTime,
    Doc,
}

#[derive(DeriveIden)]
enum Satisfaction {
    Table,
    TicketId,
    Overall,
    SubmitTime,
    GoodwillPending,
    Doc,
}

#[derive(DeriveIden)]
enum SlaEvents {
    Table,
    TicketId,
    Target,
    DueTime,
    CreateTime,
    Action,
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tickets::Table)
                .col(pk_uuid(Tickets::Id))
                .col(uuid(Tickets::CustomerId))
                .col(string(Tickets::Status))
                .col(string(Tickets::Priority))
                .col(string(Tickets::Channel))
                .col(string(Tickets::Category))
                .col(uuid_null(Tickets::TeamId))
                .col(uuid_null(Tickets::AssigneeId))
                .col(string(Tickets::SlaState))
                .col(string(Tickets::CustomerCheck))
                .col(timestamp_with_time_zone_null(Tickets::NextCheck))
                .col(timestamp_with_time_zone(Tickets::CreateTime))
                .col(timestamp_with_time_zone(Tickets::UpdateTime))
                .col(big_integer(Tickets::Revision))
                .col(text(Tickets::Doc))
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("idx_tickets_create", Tickets::CreateTime),
            ("idx_tickets_customer", Tickets::CustomerId),
            ("idx_tickets_next_check", Tickets::NextCheck),
            ("idx_tickets_check", Tickets::CustomerCheck),
            ("idx_tickets_assignee", Tickets::AssigneeId),
        ] {
            m.create_index(index(name, Tickets::Table, vec![col.into_iden()]))
                .await?;
        }
        // The usual queue views (a status, newest first; a team's or agent's open tickets)
        // without scanning every ticket when few match.
        for (name, cols) in [
            (
                "idx_tickets_status",
                vec![Tickets::Status, Tickets::CreateTime],
            ),
            (
                "idx_tickets_team_status",
                vec![Tickets::TeamId, Tickets::Status, Tickets::CreateTime],
            ),
        ] {
            m.create_index(index(
                name,
                Tickets::Table,
                cols.into_iter().map(|c| c.into_iden()).collect(),
            ))
            .await?;
        }

        m.create_table(
            Table::create()
                .table(TicketMessages::Table)
                .col(pk_uuid(TicketMessages::Id))
                .col(uuid(TicketMessages::TicketId))
                .col(uuid_null(TicketMessages::OriginTicketId))
                .col(string(TicketMessages::Kind))
                .col(timestamp_with_time_zone(TicketMessages::CreateTime))
                .col(text(TicketMessages::Doc))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_ticket_messages_thread",
            TicketMessages::Table,
            vec![
                TicketMessages::TicketId.into_iden(),
                TicketMessages::CreateTime.into_iden(),
                TicketMessages::Id.into_iden(),
            ],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Teams::Table)
                .col(pk_uuid(Teams::Id))
                .col(timestamp_with_time_zone(Teams::CreateTime))
                .col(big_integer(Teams::Revision))
                .col(text(Teams::Doc))
                .to_owned(),
        )
        .await?;

        // What only one team may hold: `category:{category}` (the team that routes it) and
        // `escalation`. The primary key settles two concurrent claims.
        m.create_table(
            Table::create()
                .table(TeamClaims::Table)
                .col(string(TeamClaims::Claim).primary_key())
                .col(uuid(TeamClaims::TeamId))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_team_claims_team",
            TeamClaims::Table,
            vec![TeamClaims::TeamId.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Agents::Table)
                .col(pk_uuid(Agents::Id))
                .col(uuid(Agents::TeamId))
                .col(integer(Agents::OpenTickets))
                .col(integer(Agents::MaxOpenTickets))
                .col(boolean(Agents::Available))
                .col(timestamp_with_time_zone_null(Agents::LastAssigned))
                .col(timestamp_with_time_zone(Agents::CreateTime))
                .col(big_integer(Agents::Revision))
                .col(text(Agents::Doc))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_agents_team",
            Agents::Table,
            vec![Agents::TeamId.into_iden()],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Macros::Table)
                .col(string(Macros::Code).primary_key())
                .col(timestamp_with_time_zone(Macros::CreateTime))
                .col(text(Macros::Doc))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Satisfaction::Table)
                .col(pk_uuid(Satisfaction::TicketId))
                .col(integer(Satisfaction::Overall))
                .col(timestamp_with_time_zone(Satisfaction::SubmitTime))
                .col(boolean(Satisfaction::GoodwillPending))
                .col(text(Satisfaction::Doc))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_satisfaction_goodwill_pending",
            Satisfaction::Table,
            vec![Satisfaction::GoodwillPending.into_iden()],
        ))
        .await?;

        // One row per breach: the SLA job's claim (insert-if-absent), so a breach is handled
        // exactly once however many job runners find it.
        m.create_table(
            Table::create()
                .table(SlaEvents::Table)
                .col(uuid(SlaEvents::TicketId))
                .col(string(SlaEvents::Target))
                .col(timestamp_with_time_zone(SlaEvents::DueTime))
                .col(timestamp_with_time_zone(SlaEvents::CreateTime))
                .col(text(SlaEvents::Action))
                .primary_key(
                    Index::create()
                        .col(SlaEvents::TicketId)
                        .col(SlaEvents::Target)
                        .col(SlaEvents::DueTime),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            SlaEvents::Table.into_iden(),
            Satisfaction::Table.into_iden(),
            Macros::Table.into_iden(),
            Agents::Table.into_iden(),
            TeamClaims::Table.into_iden(),
            Teams::Table.into_iden(),
            TicketMessages::Table.into_iden(),
            Tickets::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
