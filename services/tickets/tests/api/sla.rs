//! The SLA job: breaches found once and escalated once, even with two runners; no breach
//! while the clock is paused.
use crate::harness::*;
use chrono::{Duration, Utc};
use crm_proto::tickets as pb;
use crm_tickets::domain::TicketId;

#[tokio::test]
async fn breach_is_escalated_exactly_once_with_two_runners() {
    each_backend(|backend| async move {
        let storage = Storage::fresh(backend).await;
        let mut one = spawn_app_with(storage.clone(), |_| {}).await;
        let two = spawn_app_with(storage, |_| {}).await;
        let front = one
            .team(
                "Front",
                &[pb::Category::Complaint],
                pb::RoutingStrategy::LeastLoaded,
                false,
            )
            .await;
        let first_line = one.agent(&front.name, "Ann", 5).await;
        let escalation = one
            .team("Escalations", &[], pb::RoutingStrategy::LeastLoaded, true)
            .await;
        let senior = one.agent(&escalation.name, "Sen", 5).await;
        let mut high = ticket(&new_customer(), pb::Category::Complaint);
        high.priority = pb::Priority::High as i32;
        let t = one.create(high).await;
        assert_eq!(t.assignee, first_line.name);
        assert_eq!(t.sla.as_ref().map(|s| s.policy.as_str()), Some("high"));

        // Both runners look a day ahead: first response and resolution are both overdue.
        let at = Utc::now() + Duration::days(1);
        let (a, b) = tokio::join!(one.service.run_sla_check(at), two.service.run_sla_check(at));
        let (a, b) = (a.expect("runner one"), b.expect("runner two"));
        assert_eq!(a.breaches + b.breaches, 2, "{a:?} {b:?}");
        assert_eq!(a.escalated + b.escalated, 1, "{a:?} {b:?}");

        let e = one.get(&t.name).await;
        assert_eq!(e.escalations, 1);
        assert_eq!(e.priority, pb::Priority::Urgent as i32);
        assert_eq!(e.team, escalation.name);
        assert_eq!(e.assignee, senior.name);
        let sla = e.sla.expect("sla");
        assert_eq!(sla.state, pb::SlaState::ActiveWithMisses as i32);
        assert_eq!(sla.missed_targets, ["first_response", "resolution"]);
        assert_eq!(one.get_agent(&first_line.name).await.open_tickets, 0);
        let id = TicketId::parse_name(&t.name).expect("name");
        assert_eq!(one.service.sla_events(id).await.expect("events").len(), 2);
        let notes = one.messages(&t.name).await;
        assert_eq!(
            notes
                .iter()
                .filter(|m| m.body.starts_with("SLA missed"))
                .count(),
            1
        );
        // Nothing left to find; the stored state is filterable.
        let again = one.service.run_sla_check(at).await.expect("again");
        assert_eq!(again.breaches, 0);
        let listed = one
            .client
            .list_tickets(pb::ListTicketsRequest {
                sla_state: pb::SlaState::ActiveWithMisses as i32,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        assert_eq!(listed.tickets.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn no_breach_while_pending_customer() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let t = app
            .create(ticket(&new_customer(), pb::Category::Inquiry))
            .await;
        app.status(&t.name, pb::Status::PendingCustomer)
            .await
            .expect("pending");
        let far = Utc::now() + Duration::days(30);
        let run = app.service.run_sla_check(far).await.expect("run");
        assert_eq!(run.breaches, 0);
        // Back to open: the clock runs again and the job finds it later.
        app.status(&t.name, pb::Status::Open).await.expect("open");
        let run = app.service.run_sla_check(far).await.expect("run");
        assert_eq!(run.breaches, 2);
    })
    .await;
}

/// Policies with round numbers: normal 60 / 120 / 1440 minutes, high 30 / 60 / 240.
fn round_policies(s: &mut crm_tickets::Settings) {
    use crm_tickets::domain::{Priority, SlaPolicy};
    let p = |name: &str, priority, first, next, resolution| SlaPolicy {
        name: name.into(),
        priority,
        category: None,
        first_response_same_day: false,
        first_response_minutes: first,
        next_response_minutes: next,
        resolution_minutes: resolution,
    };
    s.tickets.sla_policies = vec![
        p("normal", None, 60, 120, 1440),
        p("high", Some(Priority::High), 30, 60, 240),
    ];
}

fn due(ts: Option<&prost_types::Timestamp>) -> chrono::DateTime<Utc> {
    let ts = ts.expect("due time set");
    chrono::DateTime::from_timestamp(ts.seconds, ts.nanos as u32).expect("timestamp")
}

fn assert_near(a: chrono::DateTime<Utc>, b: chrono::DateTime<Utc>) {
    assert!((a - b).num_seconds().abs() <= 2, "{a} is not {b}");
}

fn sla(t: &pb::Ticket) -> &pb::Sla {
    t.sla.as_ref().expect("sla")
}

#[tokio::test]
async fn priority_change_repicks_the_policy_and_due_times() {
    each_backend(|backend| async move {
        let mut app = spawn_app_with(Storage::fresh(backend).await, round_policies).await;
        let t = app
            .create(ticket(&new_customer(), pb::Category::Inquiry))
            .await;
        let created = due(t.create_time.as_ref());
        assert_eq!(sla(&t).policy, "normal");
        assert_near(
            due(sla(&t).resolution_due.as_ref()),
            created + Duration::minutes(1440),
        );

        let update = |t: &pb::Ticket, p: pb::Priority| pb::UpdateTicketRequest {
            ticket: Some(pb::Ticket {
                name: t.name.clone(),
                priority: p as i32,
                etag: t.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["priority".into()],
            }),
            request_id: rid(),
        };
        let high = app
            .client
            .update_ticket(update(&t, pb::Priority::High))
            .await
            .expect("update")
            .into_inner();
        // A few seconds of the normal allowance are used; the high one applies to the rest.
        assert_eq!(sla(&high).policy, "high");
        assert_near(
            due(sla(&high).first_response_due.as_ref()),
            created + Duration::minutes(30),
        );
        assert_near(
            due(sla(&high).resolution_due.as_ref()),
            created + Duration::minutes(240),
        );
        assert_eq!(
            app.get(&t.name).await.sla,
            high.sla,
            "stored, not just returned"
        );

        // Lowered again: the normal targets are back.
        let low = app
            .client
            .update_ticket(update(&high, pb::Priority::Low))
            .await
            .expect("update")
            .into_inner();
        assert_eq!(sla(&low).policy, "normal");
        assert_near(
            due(sla(&low).resolution_due.as_ref()),
            created + Duration::minutes(1440),
        );

        // The SLA job follows the stored due times: 45 minutes in, the high first response
        // target (30 min) is missed where the normal one (60 min) would not be.
        app.client
            .update_ticket(update(&low, pb::Priority::High))
            .await
            .expect("update");
        let run = app
            .service
            .run_sla_check(created + Duration::minutes(45))
            .await
            .expect("run");
        assert_eq!(
            run.breaches, 1,
            "the high first-response target was due at 30 min"
        );
    })
    .await;
}

#[tokio::test]
async fn escalation_bump_retimes_the_remaining_targets() {
    each_backend(|backend| async move {
        let mut app = spawn_app_with(Storage::fresh(backend).await, round_policies).await;
        let t = app
            .create(ticket(&new_customer(), pb::Category::Inquiry))
            .await;
        let created = due(t.create_time.as_ref());
        // 90 minutes in, the normal first response (60 min) is missed: bump to high.
        let at = created + Duration::minutes(90);
        let run = app.service.run_sla_check(at).await.expect("run");
        assert_eq!(run.breaches, 1);
        let e = app.get(&t.name).await;
        assert_eq!(e.priority, pb::Priority::High as i32);
        assert_eq!(sla(&e).policy, "high");
        assert_eq!(sla(&e).missed_targets, ["first_response"]);
        // 90 minutes used of the resolution target; high allows 240 in all.
        assert_near(
            due(sla(&e).resolution_due.as_ref()),
            created + Duration::minutes(240),
        );
        // The missed first response stays one breach: nothing new at the same clock.
        assert_eq!(
            app.service.run_sla_check(at).await.expect("run").breaches,
            0
        );
        // Past the new resolution due time, that one is missed (under the old policy it
        // would have run until 1440 minutes).
        let later = created + Duration::minutes(241);
        assert_eq!(
            app.service
                .run_sla_check(later)
                .await
                .expect("run")
                .breaches,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn sla_state_filter_is_current_without_the_job() {
    use crm_tickets::domain::SlaState;
    use crm_tickets::store::{TicketQuery, list_tickets};
    each_backend(|backend| async move {
        let mut app = spawn_app_with(Storage::fresh(backend).await, round_policies).await;
        let t = app
            .create(ticket(&new_customer(), pb::Category::Inquiry))
            .await;
        let db = app.service.db().clone();
        let count = |state, at| {
            let db = db.clone();
            async move {
                let q = TicketQuery {
                    sla_state: Some(state),
                    ..Default::default()
                };
                list_tickets(&db, &q, None, 10, at)
                    .await
                    .expect("list")
                    .len()
            }
        };
        let now = Utc::now();
        assert_eq!(count(SlaState::Active, now).await, 1);
        assert_eq!(count(SlaState::ActiveWithMisses, now).await, 0);
        // Past the first-response due time, before any job ran: listed as missed already.
        let later = now + Duration::minutes(61);
        assert_eq!(count(SlaState::Active, later).await, 0);
        assert_eq!(count(SlaState::ActiveWithMisses, later).await, 1);
        // Paused: no clock runs, so it stays active however late.
        app.status(&t.name, pb::Status::PendingCustomer)
            .await
            .expect("pending");
        assert_eq!(count(SlaState::Active, later).await, 1);
        assert_eq!(count(SlaState::ActiveWithMisses, later).await, 0);
        assert_eq!(count(SlaState::Hit, later).await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_solve_without_an_agent_reply_is_not_a_hit() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let team = app
            .team("Care", &[], pb::RoutingStrategy::LeastLoaded, false)
            .await;
        let agent = app.agent(&team.name, "Mei", 5).await;
        let start = Utc::now() - Duration::minutes(1);
        let silent = app
            .create(ticket(&new_customer(), pb::Category::Inquiry))
            .await;
        let solved = app
            .status(&silent.name, pb::Status::Solved)
            .await
            .expect("solve");
        let sla = solved.sla.expect("sla");
        assert_eq!(sla.state, pb::SlaState::NotApplicable as i32);
        assert!(sla.missed_targets.is_empty());
        let answered = app
            .create(ticket(&new_customer(), pb::Category::Inquiry))
            .await;
        app.reply(
            &answered.name,
            &agent.name,
            pb::MessageKind::PublicReply,
            "Hi",
        )
        .await
        .expect("reply");
        let hit = app
            .status(&answered.name, pb::Status::Solved)
            .await
            .expect("solve");
        assert_eq!(hit.sla.expect("sla").state, pb::SlaState::Hit as i32);
        let total = app.stats_since(start).await.total.expect("total");
        assert!((total.sla_hit_rate - 1.0).abs() < 1e-9, "{total:?}");
        let listed = app
            .client
            .list_tickets(pb::ListTicketsRequest {
                sla_state: pb::SlaState::NotApplicable as i32,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        assert_eq!(listed.tickets.len(), 1);
        assert_eq!(listed.tickets[0].name, silent.name);

        // Reopened, answered by an agent and solved again: now a hit.
        app.status(&silent.name, pb::Status::Open)
            .await
            .expect("reopen");
        app.reply(
            &silent.name,
            &agent.name,
            pb::MessageKind::PublicReply,
            "Sorry",
        )
        .await
        .expect("reply");
        let again = app
            .status(&silent.name, pb::Status::Solved)
            .await
            .expect("solve");
        assert_eq!(again.sla.expect("sla").state, pb::SlaState::Hit as i32);
    })
    .await;
}
