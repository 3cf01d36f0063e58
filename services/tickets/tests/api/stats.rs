//! GetTicketStats in SQL: nearest-rank percentiles read from the database agree on both
//! backends with a hand computation, the window is bounded, and rows written before the
//! stats columns existed are backfilled.
use crate::harness::*;
use crm_proto::tickets as pb;
use crm_tickets::store::entities::ticket;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

fn window(team: &str) -> pb::GetTicketStatsRequest {
    let now = chrono::Utc::now();
    pb::GetTicketStatsRequest {
        start_time: Some(ts(now - chrono::Duration::hours(1))),
        end_time: Some(ts(now + chrono::Duration::hours(1))),
        team: team.into(),
    }
}

/// Sets the stored durations of a ticket (what a reply and a solve at those times write).
async fn set_durations(
    app: &TestApp,
    name: &str,
    first_response: Option<i64>,
    resolution: Option<i64>,
) {
    use ticket::Column as C;
    let id: uuid::Uuid = name
        .strip_prefix("tickets/")
        .and_then(|s| s.parse().ok())
        .expect("ticket id");
    ticket::Entity::update_many()
        .col_expr(C::FirstResponseSeconds, Expr::value(first_response))
        .col_expr(
            C::FirstResponseBusinessSeconds,
            Expr::value(first_response.map(|s| s / 2)),
        )
        .col_expr(C::ResolutionSeconds, Expr::value(resolution))
        .col_expr(
            C::ResolutionBusinessSeconds,
            Expr::value(resolution.map(|s| s / 2)),
        )
        .filter(C::Id.eq(id))
        .exec(app.service.db())
        .await
        .expect("set durations");
}

#[tokio::test]
async fn percentiles_are_nearest_rank_on_both_backends() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let team = app
            .team(
                "Care",
                &[pb::Category::Complaint],
                pb::RoutingStrategy::LeastLoaded,
                false,
            )
            .await;
        let agent = app.agent(&team.name, "Mei", 100).await;
        // Ten first responses (minutes, shuffled) and seven resolutions.
        let first = [5, 1, 9, 3, 7, 2, 8, 4, 10, 6];
        let mut tickets = Vec::new();
        for (i, m) in first.iter().enumerate() {
            let t = app
                .create(ticket(&new_customer(), pb::Category::Complaint))
                .await;
            let resolution = (i < 7).then_some((i as i64 + 1) * 1000);
            set_durations(&app, &t.name, Some(m * 60), resolution).await;
            tickets.push(t);
        }
        // An unrouted ticket: only in the total.
        let other = app
            .create(ticket(&new_customer(), pb::Category::Billing))
            .await;
        set_durations(&app, &other.name, Some(11 * 60), None).await;

        let stats = app
            .client
            .get_ticket_stats(window(""))
            .await
            .expect("stats")
            .into_inner();
        let fr = |g: &pb::GroupStats| g.first_response.expect("first response");
        let res = |g: &pb::GroupStats| g.resolution.expect("resolution");
        let total = stats.total.clone().expect("total");
        assert_eq!(total.volume, 11);
        // 11 values 1..=11 minutes: rank ceil(5.5) = 6 and ceil(9.9) = 10.
        assert_eq!(
            (
                fr(&total).count,
                fr(&total).median_seconds,
                fr(&total).p90_seconds
            ),
            (11, 6 * 60, 10 * 60)
        );
        assert_eq!(
            (
                fr(&total).business_median_seconds,
                fr(&total).business_p90_seconds
            ),
            (3 * 60, 5 * 60)
        );
        // 7 values 1000..=7000: rank ceil(3.5) = 4 and ceil(6.3) = 7.
        assert_eq!(
            (
                res(&total).count,
                res(&total).median_seconds,
                res(&total).p90_seconds
            ),
            (7, 4000, 7000)
        );
        assert_eq!(res(&total).business_median_seconds, 2000);
        assert_eq!(stats.teams.len(), 1);
        assert_eq!(stats.agents.len(), 1);
        for g in [&stats.teams[0], &stats.agents[0]] {
            assert_eq!(g.volume, 10);
            // 10 values 1..=10 minutes: rank 5 and 9.
            assert_eq!(
                (fr(g).count, fr(g).median_seconds, fr(g).p90_seconds),
                (10, 5 * 60, 9 * 60)
            );
            assert_eq!((res(g).count, res(g).p90_seconds), (7, 7000));
            assert_eq!(g.backlog, 10);
        }
        assert_eq!(stats.agents[0].group, agent.name);
        // One team only: the unrouted ticket is left out.
        let only = app
            .client
            .get_ticket_stats(window(&team.name))
            .await
            .expect("team stats")
            .into_inner()
            .total
            .expect("total");
        assert_eq!(only.volume, 10);
        assert_eq!(fr(&only).median_seconds, 5 * 60);
        assert_eq!(only.backlog, 10);
    })
    .await;
}

#[tokio::test]
async fn the_window_is_bounded() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let now = chrono::Utc::now();
        let err = app
            .client
            .get_ticket_stats(pb::GetTicketStatsRequest {
                start_time: Some(ts(now - chrono::Duration::days(367))),
                end_time: Some(ts(now)),
                team: String::new(),
            })
            .await
            .expect_err("too long");
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(violations(&err), ["end_time"]);
        app.client
            .get_ticket_stats(pb::GetTicketStatsRequest {
                start_time: Some(ts(now - chrono::Duration::days(366))),
                end_time: Some(ts(now)),
                team: String::new(),
            })
            .await
            .expect("a year is fine");
    })
    .await;
}

#[tokio::test]
async fn rows_from_before_the_stats_columns_are_backfilled() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let team = app
            .team("Care", &[], pb::RoutingStrategy::LeastLoaded, false)
            .await;
        let agent = app.agent(&team.name, "Mei", 5).await;
        let t = app
            .create(ticket(&new_customer(), pb::Category::Inquiry))
            .await;
        app.reply(&t.name, &agent.name, pb::MessageKind::PublicReply, "Hi")
            .await
            .expect("reply");
        app.status(&t.name, pb::Status::Solved)
            .await
            .expect("solve");
        // As a row written by the previous version looks: no derived columns.
        set_durations(&app, &t.name, None, None).await;
        ticket::Entity::update_many()
            .col_expr(ticket::Column::ColumnsVersion, Expr::value(0))
            .exec(app.service.db())
            .await
            .expect("age the row");
        let before = app
            .client
            .get_ticket_stats(window(""))
            .await
            .expect("stats");
        let count = |s: &pb::TicketStats| {
            let t = s.total.clone().expect("total");
            (
                t.first_response.map(|d| d.count),
                t.resolution.map(|d| d.count),
            )
        };
        assert_eq!(count(before.get_ref()), (Some(0), Some(0)));
        let etag = app.get(&t.name).await.etag;
        assert_eq!(
            app.service.backfill_ticket_columns().await.expect("fill"),
            1
        );
        assert_eq!(
            app.service.backfill_ticket_columns().await.expect("fill"),
            0
        );
        let after = app
            .client
            .get_ticket_stats(window(""))
            .await
            .expect("stats");
        assert_eq!(count(after.get_ref()), (Some(1), Some(1)));
        assert_eq!(app.get(&t.name).await.etag, etag, "revision untouched");
    })
    .await;
}

#[tokio::test]
async fn answers_given_before_numbered_surveys_become_survey_one() {
    use crm_tickets::migration::Migrator;
    use sea_orm::ConnectionTrait;
    use sea_orm_migration::MigratorTrait;
    each_backend(|backend| async move {
        let storage = Storage::fresh(backend).await;
        let mut s = crm_tickets::Settings::load(None).expect("settings");
        storage.apply(&mut s.platform);
        let db = crm_platform::db::connect(&s.platform.database, crm_tickets::SERVICE)
            .await
            .expect("connect");
        // Up to the stats columns: the satisfaction table keyed by ticket still exists.
        Migrator::up(&db, Some(3)).await.expect("old schema");
        let ticket = uuid::Uuid::now_v7();
        let doc = serde_json::json!({
            "ticket": ticket.to_string(),
            "overall": 2, "service": 0, "product_quality": 0, "logistics": 0,
            "comment": "", "submit_time": "2026-11-30T10:00:00Z", "goodwill_points": 0,
            "goodwill_pending": true
        });
        let insert = sea_orm::sea_query::Query::insert()
            .into_table(sea_orm::sea_query::Alias::new("satisfaction"))
            .columns(
                [
                    "ticket_id",
                    "overall",
                    "submit_time",
                    "goodwill_pending",
                    "doc",
                ]
                .map(sea_orm::sea_query::Alias::new),
            )
            .values_panic([
                ticket.into(),
                2.into(),
                chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z")
                    .expect("time")
                    .with_timezone(&chrono::Utc)
                    .into(),
                true.into(),
                doc.to_string().into(),
            ])
            .to_owned();
        db.execute(&insert).await.expect("old answer");
        Migrator::up(&db, None).await.expect("migrate");
        let answers = crm_tickets::store::pending_goodwill(&db, 10)
            .await
            .expect("pending");
        assert_eq!(answers.len(), 1);
        assert_eq!((answers[0].survey, answers[0].overall), (1, 2));
        let id = crm_tickets::domain::TicketId(ticket);
        assert!(
            crm_tickets::store::answer_of(&db, id, 1)
                .await
                .expect("answer")
                .is_some()
        );
    })
    .await;
}
