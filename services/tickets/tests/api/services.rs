//! With the real customers and loyalty services (in-process, over gRPC): verification, the
//! loyalty priority bump, macro placeholders; and with them down: accepted unverified,
//! verified later by the background pass. Goodwill points never call loyalty (they travel in
//! the answer's event): a low score earns them with loyalty down or slow all the same.
use crate::harness::*;
use crm_platform::app::Service as _;
use crm_platform::client::TracedChannel;
use crm_platform::testing::auth;
use crm_proto::customers as cpb;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use crm_proto::loyalty as lpb;
use crm_proto::loyalty::loyalty_service_client::LoyaltyServiceClient;
use crm_proto::tickets as pb;
use tokio::sync::oneshot;
use tonic::Code;

/// A customers server on `storage` and `port` (0: any) that stops when the sender is dropped
/// or fires; returns its port.
async fn customers(storage: &Storage, port: u16) -> (u16, oneshot::Sender<()>) {
    let mut s = crm_customers::Settings::load(None).expect("customers settings");
    storage.apply(&mut s.platform);
    s.platform.server.port = port;
    let app = crm_customers::application(s).await.expect("customers app");
    let port = app.port();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    (port, tx)
}

/// A loyalty server on `storage` and `port` (0: any), stopped like [`customers`].
async fn loyalty(storage: &Storage, port: u16) -> (u16, oneshot::Sender<()>) {
    let mut s = crm_loyalty::Settings::load(None).expect("loyalty settings");
    storage.apply(&mut s.platform);
    s.platform.server.port = port;
    s.loyalty.expire_interval_secs = 0;
    let app = crm_loyalty::application(s).await.expect("loyalty app");
    let port = app.port();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    (port, tx)
}

/// Stops a server started by [`customers`] or [`loyalty`] and waits until its port is free.
async fn stop(port: u16, stop: oneshot::Sender<()>) {
    drop(stop);
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("port {port} still answers");
}

async fn create_customer(port: u16, given: &str) -> String {
    let mut c = customers_client(port).await;
    c.create_customer(cpb::CreateCustomerRequest {
        customer: Some(cpb::Customer {
            display_name: format!("{given} Li"),
            given_name: given.into(),
            primary_email: format!("{}@example.com", given.to_lowercase()),
            ..Default::default()
        }),
        request_id: rid(),
    })
    .await
    .expect("create customer")
    .into_inner()
    .name
}

/// A client of the customers server on `port` with every customers scope (the test's own
/// calls; tickets calls with its own, narrower token).
async fn customers_client(port: u16) -> CustomerServiceClient<TracedChannel> {
    let scopes = auth::scopes_of(crm_customers::Customers::POLICY);
    CustomerServiceClient::new(auth::channel_as(port, auth::SUBJECT, &scopes).await)
}

/// A client of the loyalty server on `port` with every loyalty scope.
async fn loyalty_client(port: u16) -> LoyaltyServiceClient<TracedChannel> {
    let scopes = auth::scopes_of(crm_loyalty::Loyalty::POLICY);
    LoyaltyServiceClient::new(auth::channel_as(port, auth::SUBJECT, &scopes).await)
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test]
async fn with_customers_and_loyalty_up() {
    each_backend(|backend| async move {
        let (cport, _stop) = customers(&Storage::fresh(backend).await, 0).await;
        let (lport, _lstop) = loyalty(&Storage::fresh(backend).await, 0).await;
        let mut app = spawn_app_with(Storage::fresh(backend).await, |s| {
            s.clients.customers_url = format!("http://127.0.0.1:{cport}");
            s.clients.loyalty_url = format!("http://127.0.0.1:{lport}");
        })
        .await;
        let gold = create_customer(cport, "Wei").await;
        let regular = create_customer(cport, "Fang").await;
        let mut l = loyalty_client(lport).await;
        l.earn(lpb::EarnRequest {
            customer: gold.clone(),
            source: Some(lpb::earn_request::Source::Purchase(lpb::Purchase {
                order_id: "o-1".into(),
                amount: Some(crm_proto::common::Money {
                    currency_code: "CNY".into(),
                    amount_minor: 600_000,
                }),
                items: vec![],
                purchase_time: None,
            })),
            request_id: rid(),
            ..Default::default()
        })
        .await
        .expect("earn");
        let tier = l
            .get_tier(lpb::GetTierRequest {
                customer: gold.clone(),
            })
            .await
            .expect("tier")
            .into_inner();
        assert_eq!(tier.tier, "gold");

        let t = app.create(ticket(&gold, pb::Category::Complaint)).await;
        assert_eq!(t.customer_check, pb::CustomerCheck::Verified as i32);
        assert_eq!(
            t.priority,
            pb::Priority::High as i32,
            "gold customers are bumped"
        );
        let r = app.create(ticket(&regular, pb::Category::Complaint)).await;
        assert_eq!(r.priority, pb::Priority::Normal as i32);
        let err = app
            .try_create(ticket(&new_customer(), pb::Category::Complaint))
            .await
            .expect_err("unknown customer");
        assert_status(&err, Code::FailedPrecondition, "CUSTOMER_NOT_FOUND");

        // Macro placeholders come from the customers service.
        let team = app
            .team("Care", &[], pb::RoutingStrategy::LeastLoaded, false)
            .await;
        let agent = app.agent(&team.name, "Mei", 5).await;
        app.client
            .create_macro(pb::CreateMacroRequest {
                r#macro: Some(pb::Macro {
                    code: "hi".into(),
                    title: "Hi".into(),
                    body: "Dear {{customer.given_name|customer}}, thank you.".into(),
                    ..Default::default()
                }),
                request_id: rid(),
            })
            .await
            .expect("macro");
        let m = app
            .client
            .apply_macro(pb::ApplyMacroRequest {
                name: t.name.clone(),
                r#macro: "macros/hi".into(),
                agent: agent.name.clone(),
                request_id: rid(),
            })
            .await
            .expect("apply")
            .into_inner();
        assert_eq!(m.body, "Dear Wei, thank you.");

        // A low score earns goodwill points in the answer (its event takes them to loyalty):
        // tickets calls nothing, so this loyalty's balance stays.
        let solved = app
            .status(&t.name, pb::Status::Solved)
            .await
            .expect("solve");
        let s = app
            .survey(&t.name, &solved.survey_token, 1)
            .await
            .expect("csat");
        assert_eq!((s.goodwill_points, s.goodwill_pending), (100, false));
        let balance = l
            .get_balance(lpb::GetBalanceRequest {
                customer: gold.clone(),
            })
            .await
            .expect("balance")
            .into_inner();
        assert_eq!(balance.available, 6000, "no synchronous goodwill award");
    })
    .await;
}

#[tokio::test]
async fn with_customers_and_loyalty_down() {
    each_backend(|backend| async move {
        let cstorage = Storage::fresh(backend).await;
        let (cport, cstop) = customers(&cstorage, 0).await;
        let known = create_customer(cport, "Wei").await;
        stop(cport, cstop).await;
        let lport = closed_port().await;
        let mut app = spawn_app_with(Storage::fresh(backend).await, |s| {
            s.clients.customers_url = format!("http://127.0.0.1:{cport}");
            s.clients.loyalty_url = format!("http://127.0.0.1:{lport}");
            s.clients.timeout_ms = 500;
        })
        .await;
        let t = app.create(ticket(&known, pb::Category::Complaint)).await;
        assert_eq!(t.customer_check, pb::CustomerCheck::Unverified as i32);
        assert_eq!(t.priority, pb::Priority::Normal as i32);
        let stranger = app
            .create(ticket(&new_customer(), pb::Category::Inquiry))
            .await;
        assert_eq!(
            stranger.customer_check,
            pb::CustomerCheck::Unverified as i32
        );
        assert_eq!(app.service.verify_customers().await.expect("pass"), 0);

        // Customers comes back on the same port: the pass settles both tickets.
        let (_, _stop) = customers(&cstorage, cport).await;
        assert!(
            crm_platform::testing::wait_serving(
                &format!("http://127.0.0.1:{cport}"),
                "crm.customers.v1.CustomerService"
            )
            .await
        );
        assert_eq!(app.service.verify_customers().await.expect("pass"), 2);
        assert_eq!(
            app.get(&t.name).await.customer_check,
            pb::CustomerCheck::Verified as i32
        );
        assert_eq!(
            app.get(&stranger.name).await.customer_check,
            pb::CustomerCheck::NotFound as i32
        );
    })
    .await;
}

#[tokio::test]
async fn a_low_score_with_loyalty_down_earns_goodwill_all_the_same() {
    each_backend(|backend| async move {
        let lport = closed_port().await;
        let mut app = spawn_app_with(Storage::fresh(backend).await, |s| {
            s.clients.loyalty_url = format!("http://127.0.0.1:{lport}");
            s.clients.timeout_ms = 500;
        })
        .await;
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
            .expect("accepted with loyalty down");
        assert_eq!((s.goodwill_points, s.goodwill_pending), (100, false));
        assert_eq!(app.get(&t.name).await.status, pb::Status::Open as i32);
        let notes = app
            .messages(&t.name)
            .await
            .into_iter()
            .filter(|m| m.body.contains("goodwill points awarded"))
            .count();
        assert_eq!(notes, 1);
    })
    .await;
}

#[tokio::test]
async fn a_low_scores_goodwill_reaches_loyalty_over_the_backbone_once() {
    each_backend(|backend| async move {
        let storage = Storage::fresh(backend).await;
        // Loyalty reads the tickets stream of this storage's bus (same key prefix); tickets
        // is not told where loyalty is, so nothing but the event can carry the award.
        let lstorage = Storage {
            cache_prefix: storage.cache_prefix.clone(),
            ..Storage::fresh(backend).await
        };
        let (lport, _lstop) = loyalty(&lstorage, 0).await;
        let mut app = spawn_app_with(storage, |_| {}).await;
        let customer = new_customer();
        let t = app.create(ticket(&customer, pb::Category::Complaint)).await;
        let solved = app
            .status(&t.name, pb::Status::Solved)
            .await
            .expect("solve");
        let s = app
            .survey(&t.name, &solved.survey_token, 1)
            .await
            .expect("answer");
        assert_eq!(s.goodwill_points, 100);
        let mut l = loyalty_client(lport).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let balance = l
                .get_balance(lpb::GetBalanceRequest {
                    customer: customer.clone(),
                })
                .await
                .map(|b| b.into_inner().available)
                .unwrap_or(0);
            if balance == 100 {
                break;
            }
            assert!(balance < 100, "awarded more than once: {balance}");
            assert!(
                std::time::Instant::now() < deadline,
                "goodwill never arrived"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn goodwill_left_pending_by_the_sync_design_is_handed_over_once() {
    use crm_tickets::domain::TicketId;
    use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
    each_backend(|backend| async move {
        let storage = Storage::fresh(backend).await;
        let mut app = spawn_app_with(storage.clone(), |_| {}).await;
        let t = app
            .create(ticket(&new_customer(), pb::Category::Complaint))
            .await;
        let solved = app
            .status(&t.name, pb::Status::Solved)
            .await
            .expect("solve");
        app.survey(&t.name, &solved.survey_token, 1)
            .await
            .expect("answer");
        let mut tap = app.tap_events().await;
        // Started after the tap skipped what was there: with two relays from here on, events
        // of different tickets may come in any order.
        let replica = spawn_app_with(app.storage.clone(), |_| {}).await;
        // As the earlier design left an answer whose award loyalty never answered.
        let id = TicketId::parse_name(&t.name).expect("name");
        let db = app.service.db();
        let sql = match db.get_database_backend() {
            DatabaseBackend::Sqlite => "UPDATE survey_answers SET goodwill_pending = 1, goodwill_points = 0 WHERE ticket_id = ?",
            _ => "UPDATE survey_answers SET goodwill_pending = true, goodwill_points = 0 WHERE ticket_id = $1",
        };
        db.execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [id.0.into()],
        ))
        .await
        .expect("pending");
        let (a, b) = tokio::join!(
            app.service.hand_over_pending_goodwill(),
            replica.service.hand_over_pending_goodwill()
        );
        // (The replica's own start-up hand-over may have raced them to it: at most one.)
        assert!(a.expect("one") + b.expect("two") <= 1);
        assert_eq!(
            app.service
                .hand_over_pending_goodwill()
                .await
                .expect("again"),
            0
        );
        let answer = crm_tickets::store::answer_of(db, id, 1)
            .await
            .expect("answer")
            .expect("stored");
        assert_eq!((answer.goodwill_points, answer.goodwill_pending), (100, false));
        // What keeps two replicas from handing one answer over twice: settling is
        // conditional on the answer still pending.
        assert!(
            !crm_tickets::store::settle_goodwill(db, &answer)
                .await
                .expect("settle"),
            "a settled answer is not settled again"
        );
        let notes = app
            .messages(&t.name)
            .await
            .into_iter()
            .filter(|m| m.body.contains("goodwill points awarded"))
            .count();
        assert_eq!(notes, 2, "the answer's, and the hand-over's");
        // Read until the handed-over event came (either relay may carry it), then once more.
        let mut handed = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut extra_reads = 2;
        while extra_reads > 0 {
            assert!(std::time::Instant::now() < deadline, "never handed over");
            for e in app.published(&mut tap).await {
                if let Some(crm_proto::events::event::Payload::SatisfactionSubmitted(s)) = e.payload
                {
                    handed.push(s.goodwill_points);
                }
            }
            if !handed.is_empty() {
                extra_reads -= 1;
            }
        }
        assert_eq!(handed, [100], "one event for the hand-over");
    })
    .await;
}

/// A server that accepts connections and never answers: calls to it wait for their deadline.
async fn black_hole() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = l.accept().await {
            held.push(socket);
        }
    });
    port
}

#[tokio::test]
async fn a_slow_loyalty_never_stalls_a_survey_answer() {
    each_backend(|backend| async move {
        let lport = black_hole().await;
        let mut app = spawn_app_with(Storage::fresh(backend).await, |s| {
            s.clients.loyalty_url = format!("http://127.0.0.1:{lport}");
            s.clients.timeout_ms = 4000;
        })
        .await;
        let (a, b) = {
            let mut other = app.client.clone();
            let b = ticket(&new_customer(), pb::Category::Inquiry);
            let (a, b) = tokio::join!(
                app.try_create(ticket(&new_customer(), pb::Category::Complaint)),
                other.create_ticket(pb::CreateTicketRequest {
                    ticket: Some(b),
                    request_id: rid(),
                })
            );
            (a.expect("create a"), b.expect("create b").into_inner())
        };
        let solved = app
            .status(&a.name, pb::Status::Solved)
            .await
            .expect("solve");

        // A low score asks loyalty nothing: answered at once, while loyalty hangs, and reads
        // and writes of other tickets go through meanwhile.
        let quick = std::time::Duration::from_millis(2000);
        let started = std::time::Instant::now();
        let s = tokio::time::timeout(quick, app.survey(&a.name, &solved.survey_token, 1))
            .await
            .expect("the answer does not wait for loyalty")
            .expect("answer accepted");
        assert_eq!((s.goodwill_points, s.goodwill_pending), (100, false));
        let got = tokio::time::timeout(
            quick,
            app.client.get_ticket(pb::GetTicketRequest {
                name: b.name.clone(),
            }),
        )
        .await
        .expect("get ticket is not stalled")
        .expect("get");
        assert_eq!(got.into_inner().name, b.name);
        tokio::time::timeout(quick, app.status(&b.name, pb::Status::OnHold))
            .await
            .expect("change status is not stalled")
            .expect("on hold");
        assert!(started.elapsed() < quick);
        assert_eq!(app.get(&a.name).await.status, pb::Status::Open as i32);
    })
    .await;
}

#[tokio::test]
async fn gone_customers_are_refused_and_merged_ones_resolve_to_the_survivor() {
    each_backend(|backend| async move {
        let (cport, _stop) = customers(&Storage::fresh(backend).await, 0).await;
        let mut app = spawn_app_with(Storage::fresh(backend).await, |s| {
            s.clients.customers_url = format!("http://127.0.0.1:{cport}");
        })
        .await;
        let mut c = customers_client(cport).await;
        let deleted = create_customer(cport, "Deleted").await;
        let erased = create_customer(cport, "Erased").await;
        let survivor = create_customer(cport, "Survivor").await;
        let merged = create_customer(cport, "Merged").await;
        c.delete_customer(cpb::DeleteCustomerRequest {
            name: deleted.clone(),
            etag: String::new(),
            request_id: rid(),
        })
        .await
        .expect("delete");
        c.erase_customer(cpb::EraseCustomerRequest {
            name: erased.clone(),
            request_id: rid(),
            actor: "dpo".into(),
        })
        .await
        .expect("erase");
        c.merge_customers(cpb::MergeCustomersRequest {
            survivor: survivor.clone(),
            merged: vec![merged.clone()],
            validate_only: false,
            request_id: rid(),
            actor: "agent".into(),
        })
        .await
        .expect("merge");

        let err = app
            .try_create(ticket(&deleted, pb::Category::Complaint))
            .await
            .expect_err("deleted customer");
        assert_status(&err, Code::FailedPrecondition, "CUSTOMER_DELETED");
        let err = app
            .try_create(ticket(&erased, pb::Category::Complaint))
            .await
            .expect_err("erased customer");
        assert_status(&err, Code::FailedPrecondition, "CUSTOMER_ERASED");
        let t = app.create(ticket(&merged, pb::Category::Complaint)).await;
        assert_eq!(t.customer, survivor, "stored under the survivor");
        assert_eq!(t.customer_check, pb::CustomerCheck::Verified as i32);
        let list = app
            .client
            .list_tickets(pb::ListTicketsRequest {
                customer: survivor.clone(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        assert_eq!(list.tickets.len(), 1);
        assert_eq!(list.tickets[0].name, t.name);
        // The customer writing in under the merged-away name is the ticket's customer.
        let m = app
            .reply(&t.name, &merged, pb::MessageKind::PublicReply, "Any news?")
            .await
            .expect("reply as the merged-away customer");
        assert_eq!(m.author, survivor);
        let err = app
            .reply(&t.name, &deleted, pb::MessageKind::PublicReply, "Me too")
            .await
            .expect_err("another customer");
        assert_status(&err, Code::FailedPrecondition, "CUSTOMER_MISMATCH");
    })
    .await;
}

#[tokio::test]
async fn the_verification_pass_settles_gone_and_merged_customers() {
    each_backend(|backend| async move {
        let cstorage = Storage::fresh(backend).await;
        let (cport, cstop) = customers(&cstorage, 0).await;
        let deleted = create_customer(cport, "Deleted").await;
        let survivor = create_customer(cport, "Survivor").await;
        let merged = create_customer(cport, "Merged").await;
        stop(cport, cstop).await;
        let mut app = spawn_app_with(Storage::fresh(backend).await, |s| {
            s.clients.customers_url = format!("http://127.0.0.1:{cport}");
            s.clients.timeout_ms = 500;
        })
        .await;
        let d = app.create(ticket(&deleted, pb::Category::Complaint)).await;
        let m = app.create(ticket(&merged, pb::Category::Complaint)).await;
        assert_eq!(d.customer_check, pb::CustomerCheck::Unverified as i32);

        let (_, _stop) = customers(&cstorage, cport).await;
        let url = format!("http://127.0.0.1:{cport}");
        assert!(
            crm_platform::testing::wait_serving(&url, "crm.customers.v1.CustomerService").await
        );
        let mut c = customers_client(cport).await;
        c.delete_customer(cpb::DeleteCustomerRequest {
            name: deleted.clone(),
            etag: String::new(),
            request_id: rid(),
        })
        .await
        .expect("delete");
        c.merge_customers(cpb::MergeCustomersRequest {
            survivor: survivor.clone(),
            merged: vec![merged.clone()],
            validate_only: false,
            request_id: rid(),
            actor: "agent".into(),
        })
        .await
        .expect("merge");
        assert_eq!(app.service.verify_customers().await.expect("pass"), 2);
        assert_eq!(
            app.get(&d.name).await.customer_check,
            pb::CustomerCheck::Deleted as i32
        );
        let moved = app.get(&m.name).await;
        assert_eq!(moved.customer_check, pb::CustomerCheck::Verified as i32);
        assert_eq!(moved.customer, survivor);
    })
    .await;
}
