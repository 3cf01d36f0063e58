//! Erase: customers erases a customer; loyalty and tickets scrub what they hold about them
//! from the CustomerErased event and report it (ErasureCompleted), which customers shows.
use crate::harness::{Suite, on_every_topology};
use crate::steps::{purchase, score};
use crm_platform::testing::rid;
use crm_proto::customers as cpb;
use crm_proto::loyalty as lpb;
use crm_proto::tickets as tpb;
use std::time::Duration;

const ARRIVAL: Duration = Duration::from_secs(20);

/// Personal details Wei gave in free text, each in one place, none of which may survive.
const PERSONAL: [&str; 6] = [
    "Wei",
    "Lujiazui",
    "13800138000",
    "courier lost",
    "gift wrap",
    "dog chewed",
];

on_every_topology!(an_erasure_scrubs_every_service_and_is_reported_done);

/// Wei's name and details sit in loyalty (an adjustment's reason, a redemption's
/// description) and in tickets (subject, description, a reply, a survey comment). After
/// EraseCustomer, each service reports its part done (customers' GetErasureStatus) and then
/// returns none of those texts; the ledger keeps its amounts and a valid chain; the erasure
/// is COMPLETED with something scrubbed in each.
async fn an_erasure_scrubs_every_service_and_is_reported_done(mut s: Suite) {
    let wei = s.create_customer("Wei").await;
    s.record(&wei, purchase("order-1", 100_000, None)).await;
    s.await_available(&wei, 1_000, ARRIVAL).await;
    s.loyalty
        .adjust(lpb::AdjustRequest {
            customer: wei.clone(),
            points: 50,
            reason: "Sorry Wei Li, the courier lost your parcel".into(),
            actor: "agents/ana".into(),
            request_id: rid(),
        })
        .await
        .expect("adjust");
    s.loyalty
        .redeem(lpb::RedeemRequest {
            customer: wei.clone(),
            points: 30,
            description: "Gift wrap for Wei Li".into(),
            request_id: rid(),
            ..Default::default()
        })
        .await
        .expect("redeem");
    let ticket = s
        .create_ticket(tpb::Ticket {
            subject: "Wei Li: the kettle from Lujiazui leaks".into(),
            description: "Call Wei back on 13800138000.".into(),
            ..crate::steps::complaint(&wei)
        })
        .await
        .expect("ticket")
        .name;
    s.tickets
        .add_message(tpb::AddMessageRequest {
            parent: ticket.clone(),
            message: Some(tpb::Message {
                kind: tpb::MessageKind::PublicReply as i32,
                author: wei.clone(),
                body: "This is Wei again: the dog chewed the cable too.".into(),
                ..Default::default()
            }),
            request_id: rid(),
        })
        .await
        .expect("reply");
    let solved = s.solve(&ticket).await;
    let mut answer = score(&ticket, &solved.survey_token, 4);
    if let Some(sat) = answer.satisfaction.as_mut() {
        sat.comment = "Wei Li: fine in the end".into();
    }
    s.tickets
        .submit_satisfaction(answer)
        .await
        .expect("survey answered");
    let ledger_before = s.transactions(&wei, &[]).await;

    s.erase(&wei).await;
    s.await_erasure_reported(&wei, "tickets", ARRIVAL).await;
    let t = s.get_ticket(&ticket).await;
    assert_no_personal(&format!("{} {}", t.subject, t.description), &ticket);
    for body in s.message_bodies(&ticket).await {
        assert_no_personal(&body, &ticket);
    }

    let status = s.await_erasure_reported(&wei, "loyalty", ARRIVAL).await;
    let ledger = s.transactions(&wei, &[]).await;
    let amounts = |l: &[lpb::Transaction]| -> Vec<(i32, i64)> {
        l.iter().map(|t| (t.kind, t.wallet_delta)).collect()
    };
    assert_eq!(amounts(&ledger), amounts(&ledger_before), "amounts stay");
    for t in &ledger {
        assert_no_personal(&format!("{t:?}"), &t.name);
    }
    assert_eq!(s.balance(&wei).await.available, 1_000 + 50 - 30);
    s.assert_ledger_consistent(&wei).await;

    // Every expected service reported: the erasure is complete, and says what each did.
    let status = s.erasure_status(&status.customer).await;
    assert_eq!(
        status.state,
        cpb::ErasureState::Completed as i32,
        "{status:?}"
    );
    let reported: Vec<(&str, bool)> = status
        .services
        .iter()
        .map(|p| (p.service.as_str(), p.scrubbed_records > 0))
        .collect();
    assert_eq!(
        reported,
        [("loyalty", true), ("tickets", true)],
        "{status:?}"
    );
}

#[track_caller]
fn assert_no_personal(text: &str, what: &str) {
    let lower = text.to_lowercase();
    for p in PERSONAL {
        assert!(
            !lower.contains(&p.to_lowercase()),
            "{what} still holds {p:?} after the erasure: {text}"
        );
    }
}
