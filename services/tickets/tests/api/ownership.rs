//! A customer's own token (subject `customers/{id}`): it opens, reads, writes to and rates
//! its own tickets only; another customer's ticket and a ticket that does not exist are
//! refused alike (AIP-211), and agent work is not for it.
use crate::harness::*;
use crm_platform::auth::{CUSTOMER_TOKEN_NOT_ALLOWED, NOT_OWN_RESOURCE};
use crm_platform::testing::Backend;
use crm_proto::tickets as pb;
use tonic::Code;

const CUSTOMER_SCOPES: &[&str] = &["tickets.read", "tickets.write"];

#[track_caller]
fn not_own(answer: Result<impl std::fmt::Debug, tonic::Status>, what: &str) {
    match answer {
        Ok(v) => panic!("{what}: answered {v:?}"),
        Err(e) => assert_status(&e, Code::PermissionDenied, NOT_OWN_RESOURCE),
    }
}

#[tokio::test]
async fn a_customer_token_reaches_its_own_tickets_only() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let a = new_customer();
    let b = new_customer();
    let mut as_a = app.as_caller(&a, CUSTOMER_SCOPES).await;
    let mine = as_a.create(ticket(&a, pb::Category::Inquiry)).await;
    let theirs = app.create(ticket(&b, pb::Category::Inquiry)).await;
    let missing = format!("tickets/{}", uuid::Uuid::now_v7());
    not_own(
        as_a.try_create(ticket(&b, pb::Category::Inquiry)).await,
        "a ticket for another customer",
    );

    assert_eq!(as_a.get(&mine.name).await.customer, a);
    for name in [&theirs.name, &missing] {
        let got = as_a
            .client
            .get_ticket(pb::GetTicketRequest { name: name.clone() })
            .await;
        not_own(got, name);
    }

    // Listing: its own tickets whatever the filter says, another customer's refused.
    let listed = as_a
        .client
        .list_tickets(pb::ListTicketsRequest::default())
        .await
        .expect("list own")
        .into_inner()
        .tickets;
    let names: Vec<_> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, [mine.name.as_str()]);
    let other = as_a
        .client
        .list_tickets(pb::ListTicketsRequest {
            customer: b.clone(),
            ..Default::default()
        })
        .await;
    not_own(other, "another customer's list");

    // Messages: its own thread, as itself, public replies only.
    let team = app
        .team("Care", &[], pb::RoutingStrategy::LeastLoaded, false)
        .await;
    let agent = app.agent(&team.name, "Mei", 5).await;
    app.reply(
        &mine.name,
        &agent.name,
        pb::MessageKind::InternalNote,
        "between agents",
    )
    .await
    .expect("internal note");
    assert!(
        app.messages(&mine.name)
            .await
            .iter()
            .any(|m| m.body == "between agents"),
        "the note is there for agents"
    );
    as_a.reply(&mine.name, &a, pb::MessageKind::PublicReply, "any news?")
        .await
        .expect("own thread");
    let seen = as_a.messages(&mine.name).await;
    assert!(
        seen.iter()
            .all(|m| m.kind != pb::MessageKind::InternalNote as i32),
        "a customer sees no internal notes: {seen:?}"
    );
    assert!(seen.iter().any(|m| m.body == "any news?"), "{seen:?}");
    not_own(
        as_a.reply(&mine.name, &b, pb::MessageKind::PublicReply, "as b")
            .await,
        "writing as another customer",
    );
    for name in [&theirs.name, &missing] {
        not_own(
            as_a.reply(name, &a, pb::MessageKind::PublicReply, "hi")
                .await,
            name,
        );
        let listed = as_a
            .client
            .list_messages(pb::ListMessagesRequest {
                parent: name.clone(),
                ..Default::default()
            })
            .await;
        not_own(listed, name);
    }

    // Satisfaction: its own solved ticket only.
    let solved = app
        .status(&theirs.name, pb::Status::Solved)
        .await
        .expect("solve theirs");
    not_own(
        as_a.survey(&theirs.name, &solved.survey_token, 5).await,
        "rating another customer's ticket",
    );
    let own_solved = app
        .status(&mine.name, pb::Status::Solved)
        .await
        .expect("solve mine");
    as_a.survey(&mine.name, &own_solved.survey_token, 4)
        .await
        .expect("rating its own ticket");
}

#[tokio::test]
async fn a_customer_token_cannot_work_tickets_even_with_the_scope() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let a = new_customer();
    let t = app.create(ticket(&a, pb::Category::Inquiry)).await;
    let mut as_a = app.as_caller(&a, &["tickets.read", "tickets.agent"]).await;
    let err = as_a
        .status(&t.name, pb::Status::Solved)
        .await
        .expect_err("agent work");
    assert_status(&err, Code::PermissionDenied, CUSTOMER_TOKEN_NOT_ALLOWED);
}
