//! Customers' facts consumed by tickets (group `tickets.customers`): a merge re-points the
//! losers' tickets to the survivor with a note, an erasure scrubs the customer's text and
//! answers with ErasureCompleted, each once however often the event is delivered.
use crate::event_tap::{eventually, kinds};
use crate::harness::*;
use crm_platform::validate::to_timestamp;
use crm_proto::events::event::Payload;
use crm_proto::events::{self as ev, types};
use crm_proto::tickets as pb;
use crm_tickets::domain::{CustomerId, TicketId};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

fn merged(survivor: &str, losers: &[&str]) -> Payload {
    Payload::CustomerMerged(ev::CustomerMerged {
        survivor: survivor.into(),
        losers: losers.iter().map(|&l| l.to_owned()).collect(),
        actor: "test".into(),
        merge_time: Some(to_timestamp(chrono::Utc::now())),
    })
}

fn erased(customer: &str, merged: &[&str]) -> Payload {
    Payload::CustomerErased(ev::CustomerErased {
        customer: customer.into(),
        merged_customers: merged.iter().map(|&m| m.to_owned()).collect(),
        erase_time: Some(to_timestamp(chrono::Utc::now())),
    })
}

impl TestApp {
    async fn tickets_of(&mut self, customer: &str) -> Vec<pb::Ticket> {
        self.client
            .list_tickets(pb::ListTicketsRequest {
                customer: customer.into(),
                page_size: 1000,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner()
            .tickets
    }

    /// Every value of every row of every table, as text (what an erasure must leave clean).
    async fn database_text(&self) -> String {
        let db = self.service.db();
        let backend = db.get_database_backend();
        let tables_sql = match backend {
            DatabaseBackend::Sqlite => "SELECT name AS t FROM sqlite_master WHERE type = 'table'",
            _ => {
                "SELECT table_name::text AS t FROM information_schema.tables WHERE table_schema = current_schema()"
            }
        };
        let mut out = String::new();
        for row in db
            .query_all_raw(Statement::from_string(backend, tables_sql))
            .await
            .expect("tables")
        {
            let table: String = row.try_get("", "t").expect("table name");
            let rows_sql = match backend {
                DatabaseBackend::Sqlite => {
                    let cols = db
                        .query_all_raw(Statement::from_string(
                            backend,
                            format!("SELECT name AS c FROM pragma_table_info('{table}')"),
                        ))
                        .await
                        .expect("columns");
                    let each: Vec<String> = cols
                        .iter()
                        .map(|c| {
                            let c: String = c.try_get("", "c").expect("column");
                            format!("COALESCE(CAST(\"{c}\" AS TEXT), '')")
                        })
                        .collect();
                    format!(
                        "SELECT CAST({} AS BLOB) AS r FROM \"{table}\"",
                        each.join(" || '|' || ")
                    )
                }
                _ => {
                    // bytea shows as hex in a row's text: its bytes as escaped text besides.
                    let cols = db
                        .query_all_raw(Statement::from_string(
                            backend,
                            format!(
                                "SELECT column_name::text AS c FROM information_schema.columns \
                                 WHERE table_schema = current_schema() AND table_name = '{table}' \
                                 AND data_type = 'bytea'"
                            ),
                        ))
                        .await
                        .expect("columns");
                    let mut each = vec!["CAST(x AS TEXT)".to_owned()];
                    for c in &cols {
                        let c: String = c.try_get("", "c").expect("column");
                        each.push(format!("COALESCE(encode(x.\"{c}\", 'escape'), '')"));
                    }
                    format!(
                        "SELECT convert_to({}, 'UTF8') AS r FROM \"{table}\" x",
                        each.join(" || '|' || ")
                    )
                }
            };
            for r in db
                .query_all_raw(Statement::from_string(backend, rows_sql))
                .await
                .expect("rows")
            {
                // Bytes (encoded events hold text too), read leniently.
                let bytes: Vec<u8> = r.try_get("", "r").expect("row text");
                out.push_str(&String::from_utf8_lossy(&bytes));
                out.push('\n');
            }
        }
        out
    }
}

#[tokio::test]
async fn a_merge_moves_the_losers_tickets_to_the_survivor_once_with_a_note() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let (survivor, loser, other_loser, bystander) = (
            new_customer(),
            new_customer(),
            new_customer(),
            new_customer(),
        );
        let mut moved = Vec::new();
        for c in [&loser, &loser, &other_loser] {
            moved.push(app.create(ticket(c, pb::Category::Inquiry)).await);
        }
        let own = app.create(ticket(&survivor, pb::Category::Inquiry)).await;
        let kept = app.create(ticket(&bystander, pb::Category::Inquiry)).await;
        let event = app
            .feed(&survivor, merged(&survivor, &[&loser, &other_loser]))
            .await;
        eventually("the losers' tickets moved", || {
            let mut c = app.client.clone();
            let survivor = survivor.clone();
            async move {
                let listed = c
                    .list_tickets(pb::ListTicketsRequest {
                        customer: survivor,
                        ..Default::default()
                    })
                    .await
                    .expect("list")
                    .into_inner();
                listed.tickets.len() == 4
            }
        })
        .await;
        // Delivered again: nothing moves twice, no second note.
        app.redeliver(&event).await;
        let (late, after) = (new_customer(), new_customer());
        let marker = app.create(ticket(&late, pb::Category::Other)).await;
        app.feed(&after, merged(&after, &[&late])).await;
        eventually("the marker merge applied", || {
            let mut c = app.client.clone();
            let name = marker.name.clone();
            let after = after.clone();
            async move {
                let t = c
                    .get_ticket(pb::GetTicketRequest { name })
                    .await
                    .expect("get")
                    .into_inner();
                t.customer == after
            }
        })
        .await;
        for t in &moved {
            let now = app.get(&t.name).await;
            assert_eq!(now.customer, survivor);
            assert_ne!(now.etag, t.etag, "a moved ticket's etag moves on");
            let notes: Vec<_> = app
                .messages(&t.name)
                .await
                .into_iter()
                .filter(|m| m.kind == pb::MessageKind::System as i32)
                .map(|m| m.body)
                .collect();
            assert_eq!(notes.len(), 1, "{notes:?}");
            assert!(
                notes[0].contains(&format!("merged into {survivor}")),
                "{notes:?}"
            );
        }
        assert!(app.tickets_of(&loser).await.is_empty());
        assert_eq!(
            app.get(&own.name).await.etag,
            own.etag,
            "the survivor's own stay"
        );
        assert_eq!(app.get(&kept.name).await.customer, bystander);
    })
    .await;
}

#[tokio::test]
async fn merges_handled_out_of_order_file_tickets_under_the_final_survivor() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let (a, b, c) = (new_customer(), new_customer(), new_customer());
        let of_a = app.create(ticket(&a, pb::Category::Inquiry)).await;
        let of_b = app.create(ticket(&b, pb::Category::Inquiry)).await;
        // B was merged into C after A into B, but C's event is handled first.
        app.feed(&c, merged(&c, &[&b])).await;
        app.feed(&b, merged(&b, &[&a])).await;
        eventually("A's ticket moved", || {
            let mut client = app.client.clone();
            let name = of_a.name.clone();
            let a = a.clone();
            async move {
                let t = client.get_ticket(pb::GetTicketRequest { name }).await;
                t.expect("get").into_inner().customer != a
            }
        })
        .await;
        assert_eq!(app.get(&of_a.name).await.customer, c, "the final survivor");
        assert_eq!(app.get(&of_b.name).await.customer, c);
        assert!(
            app.tickets_of(&b).await.is_empty(),
            "nothing under a merged-away customer"
        );
    })
    .await;
}

#[tokio::test]
async fn a_loser_with_ten_thousand_tickets_moves_in_pages() {
    each_backend(|backend| async move {
        use sea_orm::TransactionTrait;
        let mut app = spawn_app(backend).await;
        let (survivor, loser) = (new_customer(), new_customer());
        let first = app.create(ticket(&loser, pb::Category::Inquiry)).await;
        let model = app
            .service
            .get_ticket(TicketId::parse_name(&first.name).expect("name"))
            .await
            .expect("ticket");
        let db = app.service.db().clone();
        let txn = db.begin().await.expect("begin");
        for _ in 1..10_000 {
            let mut t = model.clone();
            t.id = TicketId::generate();
            crm_tickets::store::insert_ticket(&txn, &t, t.create_time, app.service.calendar())
                .await
                .expect("insert");
        }
        txn.commit().await.expect("commit");
        let loser_id = CustomerId::parse_name(&loser).expect("loser");
        let survivor_id = CustomerId::parse_name(&survivor).expect("survivor");
        app.feed(&survivor, merged(&survivor, &[&loser])).await;
        eventually("10,000 tickets moved", || {
            let db = db.clone();
            async move {
                crm_tickets::store::tickets_of_customers(&db, &[loser_id], None, 1)
                    .await
                    .expect("left")
                    .is_empty()
            }
        })
        .await;
        let mut moved = 0;
        let mut after = None;
        loop {
            let page = crm_tickets::store::tickets_of_customers(&db, &[survivor_id], after, 1000)
                .await
                .expect("page");
            moved += page.len();
            match page.last() {
                Some(&last) if page.len() == 1000 => after = Some(last),
                _ => break,
            }
        }
        assert_eq!(moved, 10_000);
        let notes = app
            .messages(&first.name)
            .await
            .into_iter()
            .filter(|m| m.body.contains("merged into"))
            .count();
        assert_eq!(notes, 1);

        // Erased, the 10,000 are scrubbed in pages too.
        app.feed(&survivor, erased(&survivor, &[&loser])).await;
        eventually("10,000 tickets scrubbed", || {
            use crm_tickets::store::entities::ticket;
            use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
            let db = db.clone();
            async move {
                ticket::Entity::find()
                    .filter(ticket::Column::Subject.ne(crm_tickets::store::ERASED))
                    .count(&db)
                    .await
                    .expect("count")
                    == 0
            }
        })
        .await;
    })
    .await;
}

/// Text that names the person, written into every place a ticket keeps text.
const SECRET: &str = "Wei Li, 13800138000";

#[tokio::test]
async fn an_erasure_scrubs_the_customers_text_keeps_the_tickets_and_answers_once() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let team = app
            .team("Care", &[], pb::RoutingStrategy::LeastLoaded, false)
            .await;
        let agent = app.agent(&team.name, "Mei", 5).await;
        let (customer, merged_away, bystander) = (new_customer(), new_customer(), new_customer());
        // Tags are labels ([a-z0-9_-]), but one may still copy a phone number.
        let written = |who: &str| pb::Ticket {
            subject: format!("{who}: kettle leaks"),
            description: format!("Call {who} back"),
            tags: vec![
                if who == SECRET {
                    "call-13800138000"
                } else {
                    "bystander"
                }
                .into(),
            ],
            ..ticket(&customer, pb::Category::Complaint)
        };
        let t = app.create(written(SECRET)).await;
        let written_by = [
            (
                &customer,
                pb::MessageKind::PublicReply,
                format!("I am {SECRET}"),
            ),
            (
                &agent.name,
                pb::MessageKind::InternalNote,
                format!("{SECRET} sounds upset"),
            ),
            (
                &agent.name,
                pb::MessageKind::PublicReply,
                format!("Dear {SECRET}"),
            ),
        ];
        for (author, kind, body) in &written_by {
            app.reply(&t.name, author, *kind, body)
                .await
                .unwrap_or_else(|e| panic!("{kind:?} by {author}: {e:?}"));
        }
        let solved = app
            .status(&t.name, pb::Status::Solved)
            .await
            .expect("solve");
        app.client
            .submit_satisfaction(pb::SubmitSatisfactionRequest {
                name: t.name.clone(),
                survey_token: solved.survey_token.clone(),
                satisfaction: Some(pb::Satisfaction {
                    overall: 2,
                    comment: format!("{SECRET} was not helped"),
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect("survey");
        // A second ticket merged into the first: its message moves, its stored response still
        // names the ticket it was written on.
        let t2 = app.create(written(SECRET)).await;
        app.reply(
            &t2.name,
            &customer,
            pb::MessageKind::PublicReply,
            &format!("Also {SECRET}"),
        )
        .await
        .expect("reply on the second");
        app.client
            .merge_tickets(pb::MergeTicketsRequest {
                name: t.name.clone(),
                source: t2.name.clone(),
                request_id: rid(),
            })
            .await
            .expect("merge tickets");
        // A ticket still filed under a customer merged into the erased one.
        let old = app
            .create(pb::Ticket {
                customer: merged_away.clone(),
                ..written(SECRET)
            })
            .await;
        let other = app
            .create(pb::Ticket {
                customer: bystander.clone(),
                ..written("Bystander Text")
            })
            .await;
        let mut tap = app.tap_events().await;

        let event = app
            .feed(&customer, erased(&customer, &[&merged_away]))
            .await;
        eventually("the ticket scrubbed", || {
            let mut c = app.client.clone();
            let name = t.name.clone();
            async move {
                let t = c
                    .get_ticket(pb::GetTicketRequest { name })
                    .await
                    .expect("get")
                    .into_inner();
                t.subject == crm_tickets::store::ERASED
            }
        })
        .await;
        // Delivered twice: answered once (the marker merge after it shows it was handled).
        app.redeliver(&event).await;
        let (late, after) = (new_customer(), new_customer());
        let marker = app.create(ticket(&late, pb::Category::Other)).await;
        app.feed(&after, merged(&after, &[&late])).await;
        eventually("the marker merge applied", || {
            let mut c = app.client.clone();
            let name = marker.name.clone();
            let after = after.clone();
            async move {
                let got = c.get_ticket(pb::GetTicketRequest { name }).await;
                got.expect("get").into_inner().customer == after
            }
        })
        .await;

        for name in [&t.name, &t2.name, &old.name] {
            let now = app.get(name).await;
            assert_eq!(
                (
                    now.subject.as_str(),
                    now.description.as_str(),
                    now.tags.len()
                ),
                (crm_tickets::store::ERASED, crm_tickets::store::ERASED, 0)
            );
            for m in app.messages(name).await {
                assert!(!m.body.contains(SECRET), "{m:?}");
            }
        }
        // The ticket itself stays: status, times, score.
        let kept = app.get(&t.name).await;
        assert_eq!(
            (kept.status, kept.create_time, kept.solve_time.is_some()),
            (pb::Status::Open as i32, t.create_time, true)
        );
        let people: Vec<_> = app
            .messages(&t.name)
            .await
            .into_iter()
            .filter(|m| m.kind != pb::MessageKind::System as i32)
            .map(|m| m.body)
            .collect();
        assert_eq!(people, [crm_tickets::store::ERASED; 4]);
        let id = TicketId::parse_name(&t.name).expect("name");
        let answer = crm_tickets::store::answer_of(app.service.db(), id, 1)
            .await
            .expect("answer")
            .expect("kept");
        assert_eq!(
            (answer.overall, answer.comment.as_str()),
            (2, crm_tickets::store::ERASED)
        );
        assert_eq!(
            app.get(&other.name).await.subject,
            "Bystander Text: kettle leaks"
        );
        let text = app.database_text().await;
        assert!(text.contains("Bystander Text"), "the dump reads the rows");
        for piece in ["Wei Li", "13800138000"] {
            assert!(!text.contains(piece), "{piece:?} left in the database");
        }

        let events = app.published(&mut tap).await;
        let answers: Vec<_> = events
            .iter()
            .filter(|e| e.r#type == types::ERASURE_COMPLETED)
            .collect();
        assert_eq!(
            kinds(&answers.iter().map(|e| (*e).clone()).collect::<Vec<_>>()),
            [(types::ERASURE_COMPLETED, customer.as_str())]
        );
        let Some(Payload::ErasureCompleted(done)) = &answers[0].payload else {
            panic!("{answers:?}")
        };
        assert_eq!(
            (
                done.service.as_str(),
                done.customer.as_str(),
                done.erasure_event_id.clone()
            ),
            ("tickets", customer.as_str(), event.id.to_string())
        );
        // Three tickets, four people's messages (one moved by the merge), one survey comment.
        assert_eq!(done.scrubbed_records, 3 + 4 + 1);
    })
    .await;
}

#[tokio::test]
async fn an_erasure_of_a_customer_without_tickets_is_answered_with_nothing_scrubbed() {
    each_backend(|backend| async move {
        let mut app = spawn_app(backend).await;
        let mut tap = app.tap_events().await;
        let nobody = new_customer();
        let event = app.feed(&nobody, erased(&nobody, &[])).await;
        let deadline = std::time::Instant::now() + crate::event_tap::PATIENCE;
        let done = loop {
            assert!(std::time::Instant::now() < deadline, "no ErasureCompleted");
            let found = app
                .published(&mut tap)
                .await
                .into_iter()
                .find_map(|e| match e.payload {
                    Some(Payload::ErasureCompleted(d)) => Some(d),
                    _ => None,
                });
            if let Some(d) = found {
                break d;
            }
        };
        assert_eq!(
            (done.customer, done.erasure_event_id, done.scrubbed_records),
            (nobody, event.id.to_string(), 0)
        );
    })
    .await;
}
