//! One answer per survey, not per ticket: each solve issues a new survey (numbered per
//! ticket), so a ticket reopened and solved again can be rated again. Answers move from
//! `satisfaction` (keyed by ticket) to `survey_answers` (keyed by ticket and survey number);
//! the answers already given become survey 1 of their ticket.
use crm_platform::db::index;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SurveyAnswers {
    Table,
    TicketId,
    Survey,
    SurveyToken,
    Overall,
    SubmitTime,
    GoodwillPending,
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

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SurveyAnswers::Table)
                .col(uuid(SurveyAnswers::TicketId))
                .col(integer(SurveyAnswers::Survey))
                // Empty for answers given before surveys were numbered.
                .col(string(SurveyAnswers::SurveyToken))
                .col(integer(SurveyAnswers::Overall))
                .col(timestamp_with_time_zone(SurveyAnswers::SubmitTime))
                .col(boolean(SurveyAnswers::GoodwillPending))
                .col(text(SurveyAnswers::Doc))
                .primary_key(
                    Index::create()
                        .col(SurveyAnswers::TicketId)
                        .col(SurveyAnswers::Survey),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "idx_survey_answers_goodwill_pending",
            SurveyAnswers::Table,
            vec![SurveyAnswers::GoodwillPending.into_iden()],
        ))
        .await?;
        let copy = Query::insert()
            .into_table(SurveyAnswers::Table)
            .columns([
                SurveyAnswers::TicketId,
                SurveyAnswers::Survey,
                SurveyAnswers::SurveyToken,
                SurveyAnswers::Overall,
                SurveyAnswers::SubmitTime,
                SurveyAnswers::GoodwillPending,
                SurveyAnswers::Doc,
            ])
            .select_from(
                Query::select()
                    .column(Satisfaction::TicketId)
                    .expr(Expr::val(1))
                    .expr(Expr::val(""))
                    .columns([
                        Satisfaction::Overall,
                        Satisfaction::SubmitTime,
                        Satisfaction::GoodwillPending,
                        Satisfaction::Doc,
                    ])
                    .from(Satisfaction::Table)
                    .to_owned(),
            )
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        m.exec_stmt(copy).await?;
        m.drop_table(Table::drop().table(Satisfaction::Table).to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
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
        // The first answer of each ticket goes back; later surveys have no place there.
        let copy = Query::insert()
            .into_table(Satisfaction::Table)
            .columns([
                Satisfaction::TicketId,
                Satisfaction::Overall,
                Satisfaction::SubmitTime,
                Satisfaction::GoodwillPending,
                Satisfaction::Doc,
            ])
            .select_from(
                Query::select()
                    .columns([
                        SurveyAnswers::TicketId,
                        SurveyAnswers::Overall,
                        SurveyAnswers::SubmitTime,
                        SurveyAnswers::GoodwillPending,
                        SurveyAnswers::Doc,
                    ])
                    .from(SurveyAnswers::Table)
                    .and_where(Expr::col(SurveyAnswers::Survey).eq(1))
                    .to_owned(),
            )
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        m.exec_stmt(copy).await?;
        m.drop_table(Table::drop().table(SurveyAnswers::Table).to_owned())
            .await
    }
}
