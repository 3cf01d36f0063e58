//! Erase: customers erases a customer; loyalty and tickets scrub what they hold about them
//! (and about the customers merged into them) from the CustomerErased event and report it
//! (ErasureCompleted), which customers shows.
use crate::harness::{Suite, on_every_topology};
use crate::steps::{complaint, purchase, score};
use crm_platform::testing::rid;
use crm_proto::customers as cpb;
use crm_proto::loyalty as lpb;
use crm_proto::tickets as tpb;
use std::time::Duration;

const ARRIVAL: Duration = Duration::from_secs(20);

/// Personal details Wei and Fang gave in free text, none of which may survive.
const PERSONAL: [&str; 8] = [
    "Wei",
    "Fang",
    "Lujiazui",
    "13800138000",
    "courier lost",
    "gift wrap",
    "dog chewed",
    "lid is cracked",
];

on_every_topology!(an_erasure_scrubs_every_service_and_is_reported_done);

/// Wei's name and details sit in loyalty (an adjustment's reason, a redemption's
/// description) and in tickets (subject, description, a reply, a survey comment), and so do
/// Fang's, who was merged into Wei (her own ledger chain stays under her name, her ticket is
/// now Wei's). After EraseCustomer of Wei, each service reports its part done (customers'
/// GetErasureStatus) and then returns none of those texts, for either of them; the ledgers
/// keep their amounts and valid chains; the erasure is COMPLETED with something scrubbed in
/// each.
pub(crate) async fn an_erasure_scrubs_every_service_and_is_reported_done(mut s: Suite) {
    let wei = s.create_customer("Wei").await;
    let fang = s.create_customer("Fang").await;
    s.record(&wei, purchase("order-w1", 100_000, None)).await;
    s.record(&fang, purchase("order-f1", 10_000, None)).await;
    s.await_available(&wei, 1_000, ARRIVAL).await;
    s.await_available(&fang, 100, ARRIVAL).await;
    s.adjust(&wei, 50, "Sorry Wei Li, the courier lost your parcel")
        .await;
    s.adjust(&fang, 20, "Fang Li: the lid is cracked, sorry")
        .await;
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
    let wei_ticket = personal_ticket(&mut s, &wei).await;
    let fang_ticket = s
        .create_ticket(tpb::Ticket {
            subject: "Fang Li: the lid is cracked".into(),
            ..complaint(&fang)
        })
        .await
        .expect("ticket")
        .name;
    s.merge(&wei, &[&fang]).await;
    let ledgers_before = [
        s.transactions(&wei, &[]).await,
        s.transactions(&fang, &[]).await,
    ];

    s.erase(&wei).await;
    s.await_erasure_reported(&wei, "tickets", ARRIVAL).await;
    for ticket in [&wei_ticket, &fang_ticket] {
        let t = s.get_ticket(ticket).await;
        assert_eq!(
            t.customer, wei,
            "{ticket} moved to the survivor by the merge"
        );
        assert_no_personal(&format!("{} {}", t.subject, t.description), ticket);
        for body in s.message_bodies(ticket).await {
            assert_no_personal(&body, ticket);
        }
    }

    let status = s.await_erasure_reported(&wei, "loyalty", ARRIVAL).await;
    let amounts = |l: &[lpb::Transaction]| -> Vec<(i32, i64)> {
        l.iter().map(|t| (t.kind, t.wallet_delta)).collect()
    };
    for (customer, before) in [&wei, &fang].into_iter().zip(&ledgers_before) {
        let ledger = s.transactions(customer, &[]).await;
        // Fang's chain may have ended with the merge after it was read above (events).
        assert!(ledger.len() >= before.len(), "{customer}: {ledger:?}");
        let tail = ledger.len() - before.len();
        assert_eq!(
            amounts(&ledger[tail..]),
            amounts(before),
            "{customer}: amounts stay"
        );
        for t in &ledger {
            assert_no_personal(&format!("{t:?}"), &t.name);
        }
        s.assert_ledger_consistent(customer).await;
    }
    assert_eq!(
        s.balance(&wei).await.available,
        1_000 + 50 - 30 + 100 + 20,
        "Fang's points are Wei's"
    );

    // Recommendations dropped their profiles (and whatever interactions they had), where it
    // runs (the chart's customers waits only for the services it deploys).
    let recommendations = status
        .services
        .iter()
        .any(|p| p.service == "recommendations");
    if recommendations {
        s.await_erasure_reported(&wei, "recommendations", ARRIVAL)
            .await;
    }
    // Campaigns reports on its own time too (nothing above waited for it).
    s.await_erasure_reported(&wei, "campaigns", ARRIVAL).await;
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
    let mut expected = vec![("loyalty", true), ("tickets", true), ("campaigns", true)];
    if recommendations {
        expected.push(("recommendations", true));
    }
    assert_eq!(reported, expected, "{status:?}");
}

/// A ticket of `customer` with their name, address and phone in its texts, a reply by them
/// and a survey comment.
async fn personal_ticket(s: &mut Suite, customer: &str) -> String {
    let ticket = s
        .create_ticket(tpb::Ticket {
            subject: "Wei Li: the kettle from Lujiazui leaks".into(),
            description: "Call Wei back on 13800138000.".into(),
            ..complaint(customer)
        })
        .await
        .expect("ticket")
        .name;
    s.tickets
        .add_message(tpb::AddMessageRequest {
            parent: ticket.clone(),
            message: Some(tpb::Message {
                kind: tpb::MessageKind::PublicReply as i32,
                author: customer.into(),
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
    ticket
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
