//! Query plans: every ListTickets filter combination, every other list, the job work lists
//! and GetTicketStats' queries read an index range on both backends, never a full scan or a
//! sort of the table (issue 10). Statements come from the store functions the service runs.
use crate::harness::*;
use chrono::{Duration, Utc};
use crm_platform::testing::plans::{
    assert_index_range, assert_ordered_index_read, planning_session, query_plan,
};
use crm_tickets::domain::{
    AgentId, Category, Channel, CustomerId, Priority, SlaState, Status, TeamId, TicketId,
};
use crm_tickets::store::stats::{self, Scope, Window};
use crm_tickets::store::{self, TicketQuery};
use sea_orm::{ConnectionTrait, QueryTrait};
use uuid::Uuid;

/// The filters of ListTickets, one bit each in [`query_of`].
const FILTERS: usize = 9;

fn query_of(bits: usize, sla: SlaState) -> TicketQuery {
    let on = |i: usize| bits & (1 << i) != 0;
    let now = Utc::now();
    TicketQuery {
        status: on(0).then_some(Status::Open),
        priority: on(1).then_some(Priority::High),
        team: on(2).then(|| TeamId(Uuid::now_v7())),
        assignee: on(3).then(|| AgentId(Uuid::now_v7())),
        customer: on(4).then(|| CustomerId(Uuid::now_v7())),
        channel: on(5).then_some(Channel::Email),
        category: on(6).then_some(Category::ALL[0]),
        sla_state: on(7).then_some(sla),
        created_after: on(8).then(|| now - Duration::days(7)),
        created_before: None,
    }
}

#[tokio::test]
async fn every_ticket_list_filter_combination_is_an_ordered_index_range() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let (_db, txn) = planning_session(&app.storage.database_url).await;
        let b = txn.get_database_backend();
        let now = Utc::now();
        let mut checked = 0;
        for bits in 0..1 << FILTERS {
            // Every SLA state when that filter is on (they differ in shape), one otherwise.
            let slas: &[SlaState] = if bits & (1 << 7) != 0 {
                SlaState::ALL
            } else {
                &[SlaState::Hit]
            };
            for &sla in slas {
                for before in [false, true] {
                    for cursor in [None, Some((now - Duration::hours(1), Uuid::now_v7()))] {
                        let mut q = query_of(bits, sla);
                        q.created_before = before.then_some(now);
                        for s in store::list_selects(&q, cursor, 51, now) {
                            let p = query_plan(&txn, s.build(b)).await;
                            let what = format!("{q:?} after {cursor:?}");
                            assert_ordered_index_read(
                                backend,
                                &what,
                                &p,
                                "tickets",
                                "idx_tickets_",
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 4 * (1 << FILTERS), "{checked}");
    })
    .await;
}

#[tokio::test]
async fn a_single_filter_reads_its_own_index() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let (_db, txn) = planning_session(&app.storage.database_url).await;
        let b = txn.get_database_backend();
        let now = Utc::now();
        let names = [
            "idx_tickets_status_create",
            "idx_tickets_priority_create",
            "idx_tickets_team_create",
            "idx_tickets_assignee_create",
            "idx_tickets_customer_create",
            "idx_tickets_channel_create",
            "idx_tickets_category_create",
            "idx_tickets_sla_state_create",
            "idx_tickets_create_id",
        ];
        for (i, name) in names.into_iter().enumerate() {
            for &sla in SlaState::ALL {
                let q = query_of(1 << i, sla);
                for s in store::list_selects(&q, Some((now, Uuid::now_v7())), 51, now) {
                    let p = query_plan(&txn, s.build(b)).await;
                    assert_index_range(backend, &format!("{q:?}"), &p, "tickets", name);
                    assert_ordered_index_read(backend, &format!("{q:?}"), &p, "tickets", name);
                }
            }
        }
        // No filter: the newest first, from the (create_time, id) index.
        let q = TicketQuery::default();
        let s = store::list_selects(&q, None, 51, now).remove(0);
        let p = query_plan(&txn, s.build(b)).await;
        assert_ordered_index_read(backend, "no filter", &p, "tickets", "idx_tickets_create_id");
        // A team's queue of one status reads both from one index.
        let q = query_of(0b101, SlaState::Hit);
        let s = store::list_selects(&q, None, 51, now).remove(0);
        let p = query_plan(&txn, s.build(b)).await;
        assert_ordered_index_read(
            backend,
            "team+status",
            &p,
            "tickets",
            "idx_tickets_team_status_create",
        );
    })
    .await;
}

#[tokio::test]
async fn other_lists_and_job_work_lists_are_ordered_index_ranges() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let (_db, txn) = planning_session(&app.storage.database_url).await;
        let b = txn.get_database_backend();
        let now = Utc::now();
        let ticket = TicketId(Uuid::now_v7());
        for public_only in [false, true] {
            for cursor in [None, Some((now, Uuid::now_v7()))] {
                let s = store::list_messages_select(ticket, public_only, cursor, 51);
                let p = query_plan(&txn, s.build(b)).await;
                let what = format!("messages public {public_only} after {cursor:?}");
                assert_index_range(
                    backend,
                    &what,
                    &p,
                    "ticket_messages",
                    "idx_ticket_messages_thread",
                );
                assert_ordered_index_read(
                    backend,
                    &what,
                    &p,
                    "ticket_messages",
                    "idx_ticket_messages_thread",
                );
            }
        }
        for team in [None, Some(TeamId(Uuid::now_v7()))] {
            for after in [None, Some(Uuid::now_v7())] {
                let what = format!("agents of {team:?} after {after:?}");
                let p = query_plan(&txn, store::list_agents_select(team, after, 51).build(b)).await;
                let index = if team.is_some() {
                    "idx_agents_team_id"
                } else {
                    ""
                };
                assert_ordered_index_read(backend, &what, &p, "agents", index);
                if team.is_some() || after.is_some() {
                    assert_index_range(backend, &what, &p, "agents", index);
                }
            }
        }
        for after in [None, Some(Uuid::now_v7())] {
            let p = query_plan(&txn, store::list_teams_select(after, 51).build(b)).await;
            assert_ordered_index_read(backend, &format!("teams after {after:?}"), &p, "teams", "");
        }
        for after in [None, Some("refund".to_owned())] {
            let what = format!("macros after {after:?}");
            let p = query_plan(&txn, store::list_macros_select(after, 51).build(b)).await;
            assert_ordered_index_read(backend, &what, &p, "macros", "");
        }
        for (what, stmt, table, index) in [
            (
                "sla due",
                store::due_select(now, 200).build(b),
                "tickets",
                "idx_tickets_next_check",
            ),
            (
                "unverified",
                store::unverified_select(100).build(b),
                "tickets",
                "idx_tickets_check_create",
            ),
            (
                "pending goodwill",
                store::pending_goodwill_select(100).build(b),
                "survey_answers",
                "idx_survey_answers_goodwill_time",
            ),
        ] {
            let p = query_plan(&txn, stmt).await;
            assert_index_range(backend, what, &p, table, index);
            assert_ordered_index_read(backend, what, &p, table, index);
        }
    })
    .await;
}

/// The index range of tickets is bounded by the window (SQLite `create_time>? AND
/// create_time<?`; PostgreSQL an `Index Cond` on create_time).
fn assert_window_in_range(what: &str, plan: &[String]) {
    let bounded = plan.iter().any(|l| {
        (l.contains("SEARCH tickets") && l.contains("create_time>? AND create_time<?"))
            || (l.contains("Index Cond") && l.contains("create_time >="))
    });
    assert!(
        bounded,
        "{what}: window not in the index range:\n{}",
        plan.join("\n")
    );
}

#[tokio::test]
async fn every_stats_query_reads_the_window_by_an_index_range() {
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let (_db, txn) = planning_session(&app.storage.database_url).await;
        let b = txn.get_database_backend();
        let now = Utc::now();
        for team in [None, Some(TeamId(Uuid::now_v7()))] {
            let w = Window {
                start: now - Duration::days(30),
                end: now,
                team,
            };
            let window_index = if team.is_some() {
                "idx_tickets_team_"
            } else {
                "idx_tickets_create_id"
            };
            for scope in [Scope::Total, Scope::Team, Scope::Agent] {
                let mut window = vec![
                    ("outcomes", stats::sla_outcomes_select(&w, scope).build(b)),
                    ("volume", stats::volume_select(&w, scope, None).build(b)),
                ];
                for dim in stats::Dimension::ALL {
                    window.push((
                        "volume by",
                        stats::volume_select(&w, scope, Some(dim)).build(b),
                    ));
                }
                if b == sea_orm::DbBackend::Postgres {
                    window.push(("durations", stats::durations_pg_select(&w, scope).build(b)));
                } else {
                    for col in stats::DURATIONS {
                        window.push((
                            "duration counts",
                            stats::duration_counts_select(&w, scope, col).build(b),
                        ));
                        for g in [None, Some(Uuid::now_v7())] {
                            window.push((
                                "value at",
                                stats::value_at_select(&w, scope, g, col, 7).build(b),
                            ));
                        }
                    }
                }
                for (what, stmt) in window {
                    let what = format!("{what} {scope:?} team {team:?}");
                    let p = query_plan(&txn, stmt).await;
                    // Whichever index leads: the window's create_time bounds are in its range.
                    assert_index_range(backend, &what, &p, "tickets", "idx_tickets_");
                    assert_window_in_range(&what, &p);
                }
                let what = format!("csat {scope:?} team {team:?}");
                let p = query_plan(&txn, stats::csat_select(&w, scope).build(b)).await;
                assert_index_range(backend, &what, &p, "tickets", window_index);
                assert_window_in_range(&what, &p);
                assert_index_range(backend, &what, &p, "survey_answers", "");
                let what = format!("backlog {scope:?} team {team:?}");
                let p = query_plan(&txn, stats::backlog_select(&w, scope).build(b)).await;
                let index = if team.is_some() {
                    "idx_tickets_team_status_create"
                } else {
                    "idx_tickets_status_create"
                };
                assert_index_range(backend, &what, &p, "tickets", index);
            }
        }
    })
    .await;
}

#[tokio::test]
async fn the_last_migration_goes_down_and_up_again() {
    use crm_platform::testing::last_migration_goes_down_and_up;
    each_backend(last_migration_goes_down_and_up::<crm_tickets::migration::Migrator>).await;
}

#[tokio::test]
async fn routing_reads_a_teams_agents_in_routing_order() {
    use crm_tickets::domain::RoutingStrategy;
    each_backend(|backend| async move {
        let app = spawn_app(backend).await;
        let (_db, txn) = planning_session(&app.storage.database_url).await;
        let b = txn.get_database_backend();
        let team = TeamId(Uuid::now_v7());
        for (strategy, index) in [
            (RoutingStrategy::RoundRobin, "idx_agents_team_last_assigned"),
            (RoutingStrategy::LeastLoaded, "idx_agents_team_load"),
        ] {
            for offset in [0, 20] {
                let what = format!("{strategy:?} from {offset}");
                let s = store::routing_select(team, strategy, offset, 20).build(b);
                let p = query_plan(&txn, s).await;
                assert_index_range(backend, &what, &p, "agents", index);
                assert_ordered_index_read(backend, &what, &p, "agents", index);
            }
        }
    })
    .await;
}
