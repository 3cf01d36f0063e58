//! The events of ticket changes: each mutation exactly its facts, in the transaction of the
//! change (refused and replayed calls publish nothing); goodwill goes out in the answer's
//! SatisfactionSubmitted, with no call to loyalty.
use crate::event_tap::kinds;
use crate::harness::*;
use crm_proto::events::event::Payload;
use crm_proto::events::{self as ev, types};
use crm_proto::tickets as pb;
use tonic::Code;

fn payloads(events: &[ev::Event]) -> Vec<Payload> {
    events.iter().filter_map(|e| e.payload.clone()).collect()
}

#[tokio::test]
async fn each_ticket_mutation_publishes_exactly_its_events() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let team = app
            .team("Care", &[], pb::RoutingStrategy::LeastLoaded, false)
            .await;
        let agent = app.agent(&team.name, "Mei", 5).await;
        let mut tap = app.tap_events().await;

        let customer = new_customer();
        let t = app.create(ticket(&customer, pb::Category::Complaint)).await;
        let name = t.name.as_str();
        let created = app.published(&mut tap).await;
        assert_eq!(kinds(&created), [(types::TICKET_CREATED, name)]);
        let Some(Payload::TicketCreated(c)) = &created[0].payload else {
            panic!("{created:?}")
        };
        assert_eq!(
            (c.customer.as_str(), c.category, c.channel, c.priority),
            (
                customer.as_str(),
                pb::Category::Complaint as i32,
                pb::Channel::Email as i32,
                pb::Priority::Normal as i32
            )
        );

        // Refused (a stale etag, a move the table forbids) and edits that move no status
        // publish nothing.
        let stale = app
            .client
            .change_status(pb::ChangeStatusRequest {
                name: name.into(),
                status: pb::Status::Open as i32,
                etag: crm_platform::etag::of_revision(99),
                request_id: rid(),
            })
            .await
            .expect_err("stale etag");
        assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
        app.status(name, pb::Status::New)
            .await
            .expect_err("new -> new is no move");
        app.client
            .update_ticket(pb::UpdateTicketRequest {
                ticket: Some(pb::Ticket {
                    name: name.into(),
                    priority: pb::Priority::High as i32,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["priority".into()],
                }),
                request_id: rid(),
            })
            .await
            .expect("update");
        assert_eq!(app.published(&mut tap).await, []);

        // An agent's first reply opens the ticket: moved by the agent.
        app.reply(name, &agent.name, pb::MessageKind::PublicReply, "On it.")
            .await
            .expect("reply");
        let opened = app.published(&mut tap).await;
        let open_time = app.get(name).await.update_time;
        assert_eq!(kinds(&opened), [(types::TICKET_STATUS_CHANGED, name)]);
        assert_eq!(
            payloads(&opened),
            [Payload::TicketStatusChanged(ev::TicketStatusChanged {
                ticket: name.into(),
                customer: customer.clone(),
                from_status: pb::Status::New as i32,
                to_status: pb::Status::Open as i32,
                actor: agent.name.clone(),
                change_time: open_time,
            })]
        );

        // Solved by a caller (the x-crm-actor), twice with one request id: one move, one solve.
        let mut solve = tonic::Request::new(pb::ChangeStatusRequest {
            name: name.into(),
            status: pb::Status::Solved as i32,
            etag: String::new(),
            request_id: rid(),
        });
        solve
            .metadata_mut()
            .insert("x-crm-actor", "agents/lead".parse().expect("metadata"));
        let again = tonic::Request::new(solve.get_ref().clone());
        let solved = app.client.change_status(solve).await.expect("solve");
        let solved = solved.into_inner();
        app.client.change_status(again).await.expect("replay");
        let events = app.published(&mut tap).await;
        assert_eq!(
            kinds(&events),
            [
                (types::TICKET_STATUS_CHANGED, name),
                (types::TICKET_SOLVED, name)
            ]
        );
        let [
            Payload::TicketStatusChanged(moved),
            Payload::TicketSolved(s),
        ] = &payloads(&events)[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(
            (moved.from_status, moved.to_status, moved.actor.as_str()),
            (
                pb::Status::Open as i32,
                pb::Status::Solved as i32,
                "agents/lead"
            )
        );
        assert_eq!(
            (s.category, s.sla_state, s.solve_time),
            (
                pb::Category::Complaint as i32,
                pb::SlaState::Hit as i32,
                solved.solve_time
            )
        );
        assert!((0..60).contains(&s.resolution_seconds), "{s:?}");

        // A low score (loyalty is not configured here): the ticket reopens, the answer
        // carries the goodwill points, and a note says they went to loyalty. Once.
        let answer = pb::SubmitSatisfactionRequest {
            name: name.into(),
            survey_token: solved.survey_token.clone(),
            satisfaction: Some(pb::Satisfaction {
                overall: 1,
                service: 2,
                comment: "Rude on the phone".into(),
                ..Default::default()
            }),
            request_id: rid(),
        };
        let s = app
            .client
            .submit_satisfaction(answer.clone())
            .await
            .expect("answer")
            .into_inner();
        assert_eq!((s.goodwill_points, s.goodwill_pending), (100, false));
        let replayed = app
            .client
            .submit_satisfaction(answer.clone())
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(replayed, s);
        let twice = app
            .client
            .submit_satisfaction(pb::SubmitSatisfactionRequest {
                request_id: rid(),
                ..answer
            })
            .await
            .expect_err("answered");
        assert_status(&twice, Code::FailedPrecondition, "SURVEY_ALREADY_ANSWERED");
        let events = app.published(&mut tap).await;
        assert_eq!(
            kinds(&events),
            [
                (types::TICKET_STATUS_CHANGED, name),
                (types::SATISFACTION_SUBMITTED, name)
            ]
        );
        let [
            Payload::TicketStatusChanged(reopened),
            Payload::SatisfactionSubmitted(answered),
        ] = &payloads(&events)[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(
            (
                reopened.from_status,
                reopened.to_status,
                reopened.actor.as_str()
            ),
            (pb::Status::Solved as i32, pb::Status::Open as i32, "")
        );
        assert_eq!(
            answered,
            &ev::SatisfactionSubmitted {
                ticket: name.into(),
                customer: customer.clone(),
                survey_token: solved.survey_token.clone(),
                overall: 1,
                service: 2,
                product_quality: 0,
                logistics: 0,
                goodwill_points: 100,
                submit_time: s.submit_time,
            }
        );
        let notes: Vec<_> = app
            .messages(name)
            .await
            .into_iter()
            .filter(|m| m.body.contains("goodwill points awarded"))
            .map(|m| m.body)
            .collect();
        assert_eq!(
            notes,
            ["100 goodwill points awarded (sent to the loyalty service)."]
        );

        // A merge closes the source (moved by the service) and moves nothing else.
        let source = app.create(ticket(&customer, pb::Category::Inquiry)).await;
        let merged = app
            .client
            .merge_tickets(pb::MergeTicketsRequest {
                name: name.into(),
                source: source.name.clone(),
                request_id: rid(),
            })
            .await;
        merged.expect("merge");
        let events = app.published(&mut tap).await;
        assert_eq!(
            kinds(&events),
            [
                (types::TICKET_CREATED, source.name.as_str()),
                (types::TICKET_STATUS_CHANGED, source.name.as_str())
            ]
        );
        let Some(Payload::TicketStatusChanged(closed)) = &events[1].payload else {
            panic!("{events:?}")
        };
        assert_eq!(
            (closed.from_status, closed.to_status, closed.actor.as_str()),
            (pb::Status::New as i32, pb::Status::Closed as i32, "")
        );
    })
    .await;
}

#[tokio::test]
async fn a_good_score_earns_no_goodwill_and_an_answer_without_goodwill_configured_none() {
    each_backend(|backend| async move {
        let mut app = spawn_app_with(Storage::fresh(backend).await, |s| {
            s.tickets.goodwill_points = 0;
        })
        .await;
        let mut tap = app.tap_events().await;
        let t = app
            .create(ticket(&new_customer(), pb::Category::Complaint))
            .await;
        let solved = app
            .status(&t.name, pb::Status::Solved)
            .await
            .expect("solve");
        let s = app
            .survey(&t.name, &solved.survey_token, 1)
            .await
            .expect("answer");
        assert_eq!(s.goodwill_points, 0);
        let events = app.published(&mut tap).await;
        let answered: Vec<_> = payloads(&events)
            .into_iter()
            .filter_map(|p| match p {
                Payload::SatisfactionSubmitted(s) => Some(s.goodwill_points),
                _ => None,
            })
            .collect();
        assert_eq!(answered, [0]);
        assert!(
            !app.messages(&t.name)
                .await
                .iter()
                .any(|m| m.body.contains("goodwill")),
            "no goodwill note without goodwill"
        );
    })
    .await;
}

#[tokio::test]
async fn the_sla_job_publishes_each_breach_once() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let replica = spawn_app_with(app.storage.clone(), |_| {}).await;
        let mut tap = app.tap_events().await;
        let t = app
            .create(ticket(&new_customer(), pb::Category::Complaint))
            .await;
        app.published(&mut tap).await;
        let at = chrono::Utc::now() + chrono::Duration::days(30);
        let (a, b) = tokio::join!(
            app.service.run_sla_check(at),
            replica.service.run_sla_check(at)
        );
        let mut claimed = a.expect("one").breaches + b.expect("two").breaches;
        // A second run may claim the targets the escalation re-timed (new due times), never
        // the same ones.
        claimed += app.service.run_sla_check(at).await.expect("again").breaches;
        // Every ticket breaches (the tap's marker tickets too): one event per breach claimed.
        // Two replicas relay the outbox, so events of different tickets may come in any
        // order: read until as many breaches as were claimed came, then a little longer.
        let mut breached = Vec::new();
        let deadline = std::time::Instant::now() + crate::event_tap::PATIENCE;
        let mut extra_reads = 2;
        while extra_reads > 0 {
            assert!(std::time::Instant::now() < deadline, "{breached:?}");
            for p in payloads(&app.published(&mut tap).await) {
                if let Payload::TicketSlaBreached(b) = p {
                    assert_eq!(b.breach_time, Some(ts(at)));
                    breached.push((
                        b.ticket,
                        b.target,
                        b.policy,
                        b.due_time.map(|d| (d.seconds, d.nanos)),
                    ));
                }
            }
            if breached.len() as u64 >= claimed {
                extra_reads -= 1;
            }
        }
        assert_eq!(breached.len() as u64, claimed);
        let mut once = breached.clone();
        once.sort();
        once.dedup();
        assert_eq!(once.len(), breached.len(), "no breach published twice");
        let of_t: Vec<_> = breached
            .iter()
            .filter(|b| b.0 == t.name)
            .map(|b| (b.2.as_str(), b.1.as_str()))
            .take(2)
            .collect();
        assert_eq!(
            of_t,
            [("default", "first_response"), ("default", "resolution")]
        );
    })
    .await;
}
