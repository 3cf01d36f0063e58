//! Tickets through the API: validation, idempotency, etags, page tokens, the status machine,
//! the thread, merges, macros, satisfaction and stats.
use crate::harness::*;
use crm_proto::tickets as pb;
use tonic::Code;

#[tokio::test]
async fn bad_input_lists_every_field_and_writes_nothing() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let err = app
            .client
            .create_ticket(pb::CreateTicketRequest {
                ticket: Some(pb::Ticket {
                    customer: "people/1".into(),
                    priority: 9,
                    tags: vec!["Not A Tag".into()],
                    ..Default::default()
                }),
                request_id: "nope".into(),
            })
            .await
            .expect_err("invalid");
        assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(
            violations(&err),
            [
                "request_id",
                "ticket.category",
                "ticket.channel",
                "ticket.customer",
                "ticket.priority",
                "ticket.subject",
                "ticket.tags[0]"
            ]
        );
        let list = app
            .client
            .list_tickets(pb::ListTicketsRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert!(list.tickets.is_empty());
        for (req, field) in [
            (
                pb::ListTicketsRequest {
                    page_size: -1,
                    ..Default::default()
                },
                "page_size",
            ),
            (
                pb::ListTicketsRequest {
                    team: "teams/x".into(),
                    ..Default::default()
                },
                "team",
            ),
        ] {
            let err = app.client.list_tickets(req).await.expect_err("invalid");
            assert_eq!(violations(&err), [field]);
        }
        let err = app
            .client
            .get_ticket(pb::GetTicketRequest {
                name: format!("tickets/{}", uuid::Uuid::now_v7()),
            })
            .await
            .expect_err("missing");
        assert_status(&err, Code::NotFound, "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn create_is_idempotent_and_a_reused_key_is_refused() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let customer = new_customer();
        let req = pb::CreateTicketRequest {
            ticket: Some(ticket(&customer, pb::Category::Complaint)),
            request_id: rid(),
        };
        let a = app
            .client
            .create_ticket(req.clone())
            .await
            .expect("first")
            .into_inner();
        let b = app
            .client
            .create_ticket(req.clone())
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(a, b);
        assert_eq!(a.status, pb::Status::New as i32);
        assert_eq!(a.priority, pb::Priority::Normal as i32);
        // Customers is not configured in these tests: accepted, unverified.
        assert_eq!(a.customer_check, pb::CustomerCheck::Unverified as i32);
        let sla = a.sla.clone().expect("sla");
        assert_eq!(sla.policy, "default");
        assert_eq!(sla.state, pb::SlaState::Active as i32);
        assert!(sla.first_response_due.is_some() && sla.resolution_due.is_some());
        let mut other = req.clone();
        other.ticket.as_mut().expect("ticket").subject = "Something else".into();
        let err = app.client.create_ticket(other).await.expect_err("reused");
        assert_status(&err, Code::AlreadyExists, "IDEMPOTENCY_KEY_REUSED");
        let list = app
            .client
            .list_tickets(pb::ListTicketsRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert_eq!(list.tickets.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn update_needs_the_current_etag_and_a_valid_mask() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let t = app
            .create(ticket(&new_customer(), pb::Category::Inquiry))
            .await;
        let update = |t: &pb::Ticket, paths: &[&str]| pb::UpdateTicketRequest {
            ticket: Some(t.clone()),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|s| (*s).to_owned()).collect(),
            }),
            request_id: rid(),
        };
        let mut changed = t.clone();
        changed.subject = "Kettle leaks badly".into();
        changed.priority = pb::Priority::High as i32;
        changed.tags = vec!["kettle".into(), "leak".into()];
        let u = app
            .client
            .update_ticket(update(&changed, &["subject", "priority", "tags"]))
            .await
            .expect("update")
            .into_inner();
        assert_eq!(u.subject, "Kettle leaks badly");
        assert_eq!(u.priority, pb::Priority::High as i32);
        assert_ne!(u.etag, t.etag);
        // The first etag is stale now.
        let err = app
            .client
            .update_ticket(update(&changed, &["subject"]))
            .await
            .expect_err("stale");
        assert_status(&err, Code::Aborted, "ETAG_MISMATCH");
        let err = app
            .client
            .update_ticket(update(&u, &["status"]))
            .await
            .expect_err("not updatable");
        assert_eq!(violations(&err), ["update_mask.paths[0]"]);
        let mut blank = u.clone();
        blank.subject = " ".into();
        let err = app
            .client
            .update_ticket(update(&blank, &["subject"]))
            .await
            .expect_err("blank subject");
        assert_eq!(violations(&err), ["ticket.subject"]);
        assert_eq!(app.get(&t.name).await, u);
    })
    .await;
}

#[tokio::test]
async fn list_filters_and_page_tokens() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let customer = new_customer();
        for _ in 0..3 {
            app.create(ticket(&customer, pb::Category::Complaint)).await;
        }
        let mut billing = ticket(&new_customer(), pb::Category::Billing);
        billing.channel = pb::Channel::Phone as i32;
        app.create(billing).await;
        let req = pb::ListTicketsRequest {
            category: pb::Category::Complaint as i32,
            page_size: 2,
            ..Default::default()
        };
        let first = app
            .client
            .list_tickets(req.clone())
            .await
            .expect("p1")
            .into_inner();
        assert_eq!(first.tickets.len(), 2);
        assert!(!first.next_page_token.is_empty());
        let mut next = req.clone();
        next.page_token = first.next_page_token.clone();
        let second = app
            .client
            .list_tickets(next.clone())
            .await
            .expect("p2")
            .into_inner();
        assert_eq!(second.tickets.len(), 1);
        assert!(second.next_page_token.is_empty());
        let mut names: Vec<_> = first
            .tickets
            .iter()
            .chain(&second.tickets)
            .map(|t| t.name.clone())
            .collect();
        names.dedup();
        assert_eq!(names.len(), 3);

        let phone = app
            .client
            .list_tickets(pb::ListTicketsRequest {
                channel: pb::Channel::Phone as i32,
                ..Default::default()
            })
            .await
            .expect("phone")
            .into_inner();
        assert_eq!(phone.tickets.len(), 1);
        let mine = app
            .client
            .list_tickets(pb::ListTicketsRequest {
                customer: customer.clone(),
                status: pb::Status::New as i32,
                ..Default::default()
            })
            .await
            .expect("customer")
            .into_inner();
        assert_eq!(mine.tickets.len(), 3);

        let later = chrono::Utc::now() + chrono::Duration::hours(1);
        let none = app
            .client
            .list_tickets(pb::ListTicketsRequest {
                created_after: Some(ts(later)),
                ..Default::default()
            })
            .await
            .expect("range")
            .into_inner();
        assert!(none.tickets.is_empty());
        let all = app
            .client
            .list_tickets(pb::ListTicketsRequest {
                created_before: Some(ts(later)),
                ..Default::default()
            })
            .await
            .expect("range")
            .into_inner();
        assert_eq!(all.tickets.len(), 4);
        let err = app
            .client
            .list_tickets(pb::ListTicketsRequest {
                created_after: Some(ts(later)),
                created_before: Some(ts(later)),
                ..Default::default()
            })
            .await
            .expect_err("empty range");
        assert_eq!(violations(&err), ["created_before"]);

        // A token from another query, or a tampered one, is refused.
        let mut other = next.clone();
        other.category = pb::Category::Billing as i32;
        let err = app
            .client
            .list_tickets(other)
            .await
            .expect_err("other query");
        assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
        let mut tampered = next.clone();
        let mut bytes = tampered.page_token.into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        tampered.page_token = String::from_utf8(bytes).expect("ascii");
        let err = app
            .client
            .list_tickets(tampered)
            .await
            .expect_err("tampered");
        assert_status(&err, Code::InvalidArgument, "INVALID_PAGE_TOKEN");
    })
    .await;
}

#[tokio::test]
async fn status_machine_is_enforced() {
    each_backend(|backend| async move {
        let mut app = spawn_app_with(Storage::fresh(backend).await, |s| {
            s.tickets.reopen_window_hours = 0;
        })
        .await;
        let t = app
            .create(ticket(&new_customer(), pb::Category::Repair))
            .await;
        let pending = app
            .status(&t.name, pb::Status::PendingCustomer)
            .await
            .expect("pending");
        assert!(pending.sla.as_ref().is_some_and(|s| s.paused));
        let solved = app
            .status(&t.name, pb::Status::Solved)
            .await
            .expect("solved");
        assert!(solved.solve_time.is_some());
        assert!(!solved.survey_token.is_empty());
        assert!(solved.sla.as_ref().is_some_and(|s| !s.paused));
        let err = app
            .status(&t.name, pb::Status::PendingCustomer)
            .await
            .expect_err("solved -> pending");
        assert_status(&err, Code::FailedPrecondition, "ILLEGAL_TRANSITION");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let err = app
            .status(&t.name, pb::Status::Open)
            .await
            .expect_err("window");
        assert_status(&err, Code::FailedPrecondition, "REOPEN_WINDOW_PASSED");
        app.status(&t.name, pb::Status::Closed)
            .await
            .expect("close");
        let err = app
            .status(&t.name, pb::Status::Open)
            .await
            .expect_err("closed");
        assert_status(&err, Code::FailedPrecondition, "ILLEGAL_TRANSITION");
        let err = app
            .status(&t.name, pb::Status::Unspecified)
            .await
            .expect_err("unspecified");
        assert_eq!(violations(&err), ["status"]);
        // Etag precondition on ChangeStatus.
        let u = app
            .create(ticket(&new_customer(), pb::Category::Repair))
            .await;
        let err = app
            .client
            .change_status(pb::ChangeStatusRequest {
                name: u.name.clone(),
                status: pb::Status::Open as i32,
                etag: "W/\"r99\"".into(),
                request_id: rid(),
            })
            .await
            .expect_err("etag");
        assert_status(&err, Code::Aborted, "ETAG_MISMATCH");
    })
    .await;
}

#[tokio::test]
async fn thread_replies_notes_and_the_sla_clock() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let team = app
            .team("Care", &[], pb::RoutingStrategy::LeastLoaded, false)
            .await;
        let agent = app.agent(&team.name, "Mei", 5).await;
        let customer = new_customer();
        let t = app.create(ticket(&customer, pb::Category::Inquiry)).await;

        app.reply(
            &t.name,
            &agent.name,
            pb::MessageKind::InternalNote,
            "Check stock",
        )
        .await
        .expect("note");
        assert!(
            app.get(&t.name).await.first_response_time.is_none(),
            "a note is no answer"
        );
        app.reply(
            &t.name,
            &agent.name,
            pb::MessageKind::PublicReply,
            "We are on it",
        )
        .await
        .expect("reply");
        let after = app.get(&t.name).await;
        assert!(after.first_response_time.is_some());
        assert_eq!(after.status, pb::Status::Open as i32);
        assert!(
            after
                .sla
                .as_ref()
                .is_some_and(|s| s.first_response_due.is_none())
        );

        app.status(&t.name, pb::Status::PendingCustomer)
            .await
            .expect("pending");
        app.reply(
            &t.name,
            &customer,
            pb::MessageKind::PublicReply,
            "Photo attached",
        )
        .await
        .expect("customer reply");
        let back = app.get(&t.name).await;
        assert_eq!(
            back.status,
            pb::Status::Open as i32,
            "a customer reply reopens it"
        );
        let sla = back.sla.expect("sla");
        assert!(!sla.paused && sla.next_response_due.is_some());

        let err = app
            .reply(&t.name, &new_customer(), pb::MessageKind::PublicReply, "hi")
            .await
            .expect_err("stranger");
        assert_status(&err, Code::FailedPrecondition, "CUSTOMER_MISMATCH");
        let err = app
            .reply(&t.name, &customer, pb::MessageKind::System, "")
            .await
            .expect_err("system + empty body");
        assert_eq!(violations(&err), ["message.body", "message.kind"]);

        let all = app.messages(&t.name).await;
        assert_eq!(all.len(), 3);
        let public = app
            .client
            .list_messages(pb::ListMessagesRequest {
                parent: t.name.clone(),
                public_only: true,
                ..Default::default()
            })
            .await
            .expect("public")
            .into_inner()
            .messages;
        assert_eq!(public.len(), 2);

        app.status(&t.name, pb::Status::Solved)
            .await
            .expect("solve");
        app.reply(
            &t.name,
            &customer,
            pb::MessageKind::PublicReply,
            "It leaks again",
        )
        .await
        .expect("reply to solved");
        let reopened = app.get(&t.name).await;
        assert_eq!(
            reopened.status,
            pb::Status::Open as i32,
            "reopened within the window"
        );
        assert_eq!(
            reopened.sla.map(|s| s.state),
            Some(pb::SlaState::Active as i32)
        );

        app.status(&t.name, pb::Status::Closed)
            .await
            .expect("close");
        let err = app
            .reply(
                &t.name,
                &customer,
                pb::MessageKind::PublicReply,
                "still there?",
            )
            .await
            .expect_err("closed");
        assert_status(&err, Code::FailedPrecondition, "TICKET_CLOSED");
    })
    .await;
}

#[tokio::test]
async fn merge_moves_the_thread_and_closes_the_source() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let customer = new_customer();
        let a = app.create(ticket(&customer, pb::Category::Complaint)).await;
        let b = app.create(ticket(&customer, pb::Category::Complaint)).await;
        app.reply(
            &b.name,
            &customer,
            pb::MessageKind::PublicReply,
            "Same problem",
        )
        .await
        .expect("reply");
        let merged = app
            .client
            .merge_tickets(pb::MergeTicketsRequest {
                name: a.name.clone(),
                source: b.name.clone(),
                request_id: rid(),
            })
            .await
            .expect("merge")
            .into_inner();
        assert_eq!(merged.merged_from, std::slice::from_ref(&b.name));
        let source = app.get(&b.name).await;
        assert_eq!(source.status, pb::Status::Closed as i32);
        assert_eq!(source.merged_into, a.name);
        let thread = app.messages(&a.name).await;
        assert_eq!(thread.len(), 2);
        assert!(
            thread
                .iter()
                .any(|m| m.origin_ticket == b.name && m.body == "Same problem")
        );
        assert!(
            thread
                .iter()
                .any(|m| m.kind == pb::MessageKind::System as i32)
        );
        let left = app.messages(&b.name).await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].kind, pb::MessageKind::System as i32);

        let other = app
            .create(ticket(&new_customer(), pb::Category::Complaint))
            .await;
        let err = app
            .client
            .merge_tickets(pb::MergeTicketsRequest {
                name: a.name.clone(),
                source: other.name.clone(),
                request_id: rid(),
            })
            .await
            .expect_err("other customer");
        assert_status(&err, Code::FailedPrecondition, "CUSTOMER_MISMATCH");
        let err = app
            .client
            .merge_tickets(pb::MergeTicketsRequest {
                name: a.name.clone(),
                source: a.name.clone(),
                request_id: rid(),
            })
            .await
            .expect_err("itself");
        assert_eq!(violations(&err), ["source"]);
    })
    .await;
}

#[tokio::test]
async fn macros_render_placeholders() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let team = app.team("Care", &[], pb::RoutingStrategy::RoundRobin, false).await;
        let agent = app.agent(&team.name, "Mei", 5).await;
        let create = |code: &str, body: &str| pb::CreateMacroRequest {
            r#macro: Some(pb::Macro {
                code: code.into(),
                title: "Acknowledge".into(),
                body: body.into(),
                ..Default::default()
            }),
            request_id: rid(),
        };
        let err = app
            .client
            .create_macro(create("Bad Code", "{{customer.password}}"))
            .await
            .expect_err("invalid");
        assert_eq!(violations(&err), ["macro.body", "macro.code"]);
        app.client
            .create_macro(create(
                "ack",
                "Hi {{customer.given_name|there}}, we received \"{{ticket.subject}}\" and are on it. {{agent.display_name}}",
            ))
            .await
            .expect("macro");
        let err = app
            .client
            .create_macro(create("ack", "again"))
            .await
            .expect_err("taken");
        assert_status(&err, Code::AlreadyExists, "MACRO_EXISTS");
        let t = app.create(ticket(&new_customer(), pb::Category::Inquiry)).await;
        let m = app
            .client
            .apply_macro(pb::ApplyMacroRequest {
                name: t.name.clone(),
                r#macro: "macros/ack".into(),
                agent: agent.name.clone(),
                request_id: rid(),
            })
            .await
            .expect("apply")
            .into_inner();
        assert_eq!(
            m.body,
            "Hi there, we received \"The kettle leaks\" and are on it. Mei"
        );
        assert!(app.get(&t.name).await.first_response_time.is_some());
        let listed = app
            .client
            .list_macros(pb::ListMacrosRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert_eq!(listed.macros.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn satisfaction_once_and_a_low_score_reopens() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let t = app
            .create(ticket(&new_customer(), pb::Category::Complaint))
            .await;
        let survey = |token: &str, overall: i32| pb::SubmitSatisfactionRequest {
            name: t.name.clone(),
            survey_token: token.into(),
            satisfaction: Some(pb::Satisfaction {
                overall,
                logistics: 2,
                comment: "Slow courier".into(),
                ..Default::default()
            }),
            request_id: rid(),
        };
        let err = app
            .client
            .submit_satisfaction(survey("early", 5))
            .await
            .expect_err("not solved");
        assert_status(&err, Code::FailedPrecondition, "SURVEY_NOT_OPEN");
        let solved = app
            .status(&t.name, pb::Status::Solved)
            .await
            .expect("solve");
        let err = app
            .client
            .submit_satisfaction(survey(&solved.survey_token, 6))
            .await
            .expect_err("score");
        assert_eq!(violations(&err), ["satisfaction.overall"]);
        let s = app
            .client
            .submit_satisfaction(survey(&solved.survey_token, 1))
            .await
            .expect("answer")
            .into_inner();
        assert_eq!(s.overall, 1);
        assert_eq!(
            (s.goodwill_points, s.goodwill_pending),
            (100, false),
            "earned without loyalty configured: loyalty takes it from the event"
        );
        let reopened = app.get(&t.name).await;
        assert_eq!(reopened.status, pb::Status::Open as i32);
        assert!(
            app.messages(&t.name)
                .await
                .iter()
                .any(|m| m.body.contains("follow up"))
        );
        let err = app
            .client
            .submit_satisfaction(survey(&solved.survey_token, 4))
            .await
            .expect_err("twice");
        assert_status(&err, Code::FailedPrecondition, "SURVEY_ALREADY_ANSWERED");
    })
    .await;
}

#[tokio::test]
async fn each_solve_issues_a_new_survey() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let start = chrono::Utc::now() - chrono::Duration::minutes(1);
        let t = app
            .create(ticket(&new_customer(), pb::Category::Complaint))
            .await;
        let first = app
            .status(&t.name, pb::Status::Solved)
            .await
            .expect("solve")
            .survey_token;
        app.survey(&t.name, &first, 1).await.expect("low score");
        // The low score reopened the ticket; it is solved again: a new survey.
        assert_eq!(app.get(&t.name).await.status, pb::Status::Open as i32);
        let second = app
            .status(&t.name, pb::Status::Solved)
            .await
            .expect("solve again")
            .survey_token;
        assert_ne!(second, first);
        let s = app.survey(&t.name, &second, 5).await.expect("new survey");
        assert_eq!(s.overall, 5);
        for token in [&first, &second] {
            let err = app.survey(&t.name, token, 4).await.expect_err("answered");
            assert_status(&err, Code::FailedPrecondition, "SURVEY_ALREADY_ANSWERED");
        }
        let err = app
            .survey(&t.name, "not-a-token", 4)
            .await
            .expect_err("unknown token");
        assert_status(&err, Code::FailedPrecondition, "SURVEY_NOT_OPEN");
        // A high score does not reopen: the ticket stays solved.
        assert_eq!(app.get(&t.name).await.status, pb::Status::Solved as i32);
        let total = app.stats_since(start).await.total.expect("total");
        assert_eq!(total.csat_responses, 2);
        assert!((total.csat_average - 3.0).abs() < 1e-9);
        assert_eq!(total.csat_distribution.get(&1), Some(&1));
        assert_eq!(total.csat_distribution.get(&5), Some(&1));
    })
    .await;
}

#[tokio::test]
async fn stats_over_a_window() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let team = app
            .team(
                "Care",
                &[pb::Category::Complaint, pb::Category::Inquiry],
                pb::RoutingStrategy::LeastLoaded,
                false,
            )
            .await;
        let agent = app.agent(&team.name, "Mei", 10).await;
        let start = chrono::Utc::now() - chrono::Duration::minutes(1);
        let a = app
            .create(ticket(&new_customer(), pb::Category::Complaint))
            .await;
        let mut chat = ticket(&new_customer(), pb::Category::Inquiry);
        chat.channel = pb::Channel::Chat as i32;
        let b = app.create(chat).await;
        app.create(ticket(&new_customer(), pb::Category::Billing))
            .await;
        app.reply(&a.name, &agent.name, pb::MessageKind::PublicReply, "On it")
            .await
            .expect("reply");
        let solved = app
            .status(&a.name, pb::Status::Solved)
            .await
            .expect("solve");
        app.client
            .submit_satisfaction(pb::SubmitSatisfactionRequest {
                name: a.name.clone(),
                survey_token: solved.survey_token,
                satisfaction: Some(pb::Satisfaction {
                    overall: 5,
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect("csat");
        let stats = app.stats_since(start).await;
        let total = stats.total.expect("total");
        assert_eq!(total.volume, 3);
        assert_eq!(total.by_channel.get("CHANNEL_EMAIL"), Some(&2));
        assert_eq!(total.by_channel.get("CHANNEL_CHAT"), Some(&1));
        assert_eq!(total.by_category.get("CATEGORY_BILLING"), Some(&1));
        assert_eq!(total.first_response.as_ref().map(|d| d.count), Some(1));
        assert_eq!(total.resolution.as_ref().map(|d| d.count), Some(1));
        assert_eq!(total.backlog, 2);
        assert!((total.sla_hit_rate - 1.0).abs() < 1e-9);
        assert_eq!(total.csat_responses, 1);
        assert_eq!(total.csat_distribution.get(&5), Some(&1));
        assert_eq!(stats.teams.len(), 1);
        assert_eq!(stats.teams[0].group, team.name);
        assert_eq!(stats.teams[0].volume, 2);
        assert_eq!(stats.agents.len(), 1);
        assert_eq!(stats.agents[0].backlog, 1, "{} still open", b.name);
        let err = app
            .client
            .get_ticket_stats(pb::GetTicketStatsRequest::default())
            .await
            .expect_err("window required");
        assert_eq!(violations(&err), ["end_time", "start_time"]);
    })
    .await;
}

#[tokio::test]
async fn mutations_replay_and_concurrent_retries_create_once() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let customer = new_customer();
        // Eight concurrent retries of one CreateTicket: one ticket, one answer.
        let req = pb::CreateTicketRequest {
            ticket: Some(ticket(&customer, pb::Category::Inquiry)),
            request_id: rid(),
        };
        let calls = (0..8).map(|_| {
            let mut c = app.client.clone();
            let req = req.clone();
            async move { c.create_ticket(req).await }
        });
        let results = futures::future::join_all(calls).await;
        let names: std::collections::BTreeSet<_> = results
            .into_iter()
            .filter_map(|r| match r {
                Ok(t) => Some(t.into_inner().name),
                // A loser of the race may be told to retry; it must not create anything.
                Err(s) if s.code() == Code::Aborted => None,
                Err(s) => panic!("unexpected {s:?}"),
            })
            .collect();
        assert_eq!(names.len(), 1);
        let list = app
            .client
            .list_tickets(pb::ListTicketsRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert_eq!(list.tickets.len(), 1);
        let name = list.tickets[0].name.clone();

        let add = pb::AddMessageRequest {
            parent: name.clone(),
            message: Some(pb::Message {
                kind: pb::MessageKind::PublicReply as i32,
                author: customer.clone(),
                body: "Any news?".into(),
                ..Default::default()
            }),
            request_id: rid(),
        };
        let a = app
            .client
            .add_message(add.clone())
            .await
            .expect("add")
            .into_inner();
        let b = app
            .client
            .add_message(add)
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(a, b);
        assert_eq!(app.messages(&name).await.len(), 1);

        let change = pb::ChangeStatusRequest {
            name: name.clone(),
            status: pb::Status::Solved as i32,
            etag: String::new(),
            request_id: rid(),
        };
        let first = app
            .client
            .change_status(change.clone())
            .await
            .expect("solve")
            .into_inner();
        // A replay returns the first answer, although solved -> solved is no legal move.
        let again = app
            .client
            .change_status(change)
            .await
            .expect("replay")
            .into_inner();
        assert_eq!(first, again);
    })
    .await;
}

/// INVALID_ARGUMENT naming exactly `fields` (in any order).
fn refused<T: std::fmt::Debug>(res: Result<T, tonic::Status>, fields: &[&str]) {
    let err = res.expect_err("refused");
    assert_status(&err, Code::InvalidArgument, "INVALID_ARGUMENT");
    let mut got = violations(&err);
    got.sort();
    let mut want: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "{err:?}");
}

#[tokio::test]
async fn every_text_number_list_and_time_is_bounded() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let customer = new_customer();
        let mut bad = ticket(&customer, pb::Category::Inquiry);
        bad.subject = "Leak\0".into();
        bad.description = "Line\u{0}two".into();
        bad.tags = (0..21).map(|i| format!("t{i}")).collect();
        bad.order_id = "o-1\nx".into();
        bad.booking_id = "b".repeat(129);
        refused(
            app.try_create(bad).await,
            &[
                "ticket.booking_id",
                "ticket.description",
                "ticket.order_id",
                "ticket.subject",
                "ticket.tags",
            ],
        );
        let mut rtl = ticket(&customer, pb::Category::Inquiry);
        rtl.tags = vec!["ok".into()];
        rtl.subject = "Kettle \u{202E}kaeL".into();
        refused(app.try_create(rtl).await, &["ticket.subject"]);

        // A valid ticket for the calls that need one.
        let t = app.create(ticket(&customer, pb::Category::Inquiry)).await;
        let attachment = |name: &str, size: i64| pb::Attachment {
            file_name: name.into(),
            content_type: "image/jpeg".into(),
            size_bytes: size,
            uri: "https://files.example.com/a.jpg".into(),
        };
        let message = |body: &str, attachments: Vec<pb::Attachment>| pb::AddMessageRequest {
            parent: t.name.clone(),
            message: Some(pb::Message {
                kind: pb::MessageKind::PublicReply as i32,
                author: customer.clone(),
                body: body.into(),
                attachments,
                ..Default::default()
            }),
            request_id: rid(),
        };
        refused(
            app.client
                .add_message(message("Hi\0", vec![attachment("a.jpg", 1); 21]))
                .await,
            &["message.attachments", "message.body"],
        );
        let mut long_uri = attachment("a\u{7}.jpg", 104_857_601);
        long_uri.uri = "u".repeat(2001);
        refused(
            app.client
                .add_message(message("Photos\r\n\tattached", vec![long_uri]))
                .await,
            &[
                "message.attachments[0].file_name",
                "message.attachments[0].size_bytes",
                "message.attachments[0].uri",
            ],
        );
        app.client
            .add_message(message(
                "Photos\r\n\tattached",
                vec![attachment("a.jpg", 104_857_600)],
            ))
            .await
            .expect("line breaks and tabs are fine in a body");

        let year_10000 = prost_types::Timestamp {
            seconds: 253_402_300_800,
            nanos: 0,
        };
        refused(
            app.client
                .list_tickets(pb::ListTicketsRequest {
                    created_after: Some(year_10000),
                    page_token: "x".repeat(3000),
                    status: 99,
                    ..Default::default()
                })
                .await,
            &["created_after", "page_token", "status"],
        );
        refused(
            app.client
                .get_ticket_stats(pb::GetTicketStatsRequest {
                    start_time: Some(prost_types::Timestamp {
                        seconds: -62_135_596_801,
                        nanos: 0,
                    }),
                    end_time: Some(year_10000),
                    team: String::new(),
                })
                .await,
            &["end_time", "start_time"],
        );
        refused(
            app.client
                .change_status(pb::ChangeStatusRequest {
                    name: t.name.clone(),
                    status: 99,
                    etag: "1\0".into(),
                    request_id: rid(),
                })
                .await,
            &["etag", "status"],
        );
        refused(
            app.client
                .update_ticket(pb::UpdateTicketRequest {
                    ticket: Some(t.clone()),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["subject".into(); 1000],
                    }),
                    request_id: rid(),
                })
                .await,
            &["update_mask.paths"],
        );
        refused(
            app.survey(&t.name, "token\0", 0).await,
            &["satisfaction.overall", "survey_token"],
        );

        refused(
            app.client
                .create_team(pb::CreateTeamRequest {
                    team: Some(pb::Team {
                        display_name: "Care\u{1b}[31m".into(),
                        categories: vec![99, 1, 2, 3, 4, 5, 6, 7],
                        ..Default::default()
                    }),
                    request_id: rid(),
                })
                .await,
            &["team.categories", "team.display_name"],
        );
        refused(
            app.client
                .create_team(pb::CreateTeamRequest {
                    team: Some(pb::Team {
                        display_name: "Care".into(),
                        categories: vec![99],
                        routing_strategy: 7,
                        ..Default::default()
                    }),
                    request_id: rid(),
                })
                .await,
            &["team.categories[0]", "team.routing_strategy"],
        );
        let team = app
            .team("Care", &[], pb::RoutingStrategy::LeastLoaded, false)
            .await;
        refused(
            app.client
                .create_agent(pb::CreateAgentRequest {
                    agent: Some(pb::Agent {
                        display_name: "Mei".into(),
                        email: "mei\0@example.com".into(),
                        team: team.name.clone(),
                        skills: (0..51).map(|i| format!("s{i}")).collect(),
                        max_open_tickets: 1001,
                        ..Default::default()
                    }),
                    request_id: rid(),
                })
                .await,
            &["agent.email", "agent.max_open_tickets", "agent.skills"],
        );
        refused(
            app.client
                .create_macro(pb::CreateMacroRequest {
                    r#macro: Some(pb::Macro {
                        code: "hi".into(),
                        title: "t".repeat(201),
                        body: "Hello\0".into(),
                        ..Default::default()
                    }),
                    request_id: rid(),
                })
                .await,
            &["macro.body", "macro.title"],
        );

        // Nothing of the refused calls was written.
        let tickets = app
            .client
            .list_tickets(pb::ListTicketsRequest::default())
            .await
            .expect("list")
            .into_inner()
            .tickets;
        assert_eq!(tickets.len(), 1);
        assert_eq!(app.messages(&t.name).await.len(), 1);
        let agents = app
            .client
            .list_agents(pb::ListAgentsRequest::default())
            .await
            .expect("agents")
            .into_inner()
            .agents;
        assert!(agents.is_empty());
        let teams = app
            .client
            .list_teams(pb::ListTeamsRequest::default())
            .await
            .expect("teams")
            .into_inner()
            .teams;
        assert_eq!(teams.len(), 1);
    })
    .await;
}
