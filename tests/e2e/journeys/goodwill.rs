//! Low CSAT -> goodwill: a low score on a solved ticket awards goodwill points in loyalty.
use crate::harness::{Suite, on_every_topology};
use crate::steps::{complaint, purchase, score, unknown_customer};
use crm_platform::testing::assert_status;
use crm_proto::tickets as tpb;
use std::time::Duration;
use tonic::Code;

const ARRIVAL: Duration = Duration::from_secs(20);

on_every_topology!(a_gold_customers_low_score_earns_goodwill_once);

/// Customers -> loyalty -> tickets and back: a customer earns gold with a purchase, their
/// complaint is verified with customers and bumped one priority level by their tier (a
/// regular customer's is not, an unknown customer's is refused), and a low score on the solved
/// ticket reopens it and earns goodwill points in loyalty (by the backbone), once, on a
/// consistent ledger.
pub(crate) async fn a_gold_customers_low_score_earns_goodwill_once(mut s: Suite) {
    let wei = s.create_customer("Wei").await;
    let fang = s.create_customer("Fang").await;
    // A purchase of 6,000 yuan recorded in customers: 6,000 points, past gold (5,000).
    s.record(&wei, purchase("order-1", 600_000, None)).await;
    s.await_available(&wei, 6_000, ARRIVAL).await;
    assert_eq!(s.tier(&wei).await, "gold");

    // Verified with customers; the priority of a complaint (normal) bumped for gold only.
    let mut tickets = Vec::new();
    for (customer, priority) in [(&wei, tpb::Priority::High), (&fang, tpb::Priority::Normal)] {
        let t = s.create_ticket(complaint(customer)).await.expect("ticket");
        assert_eq!(t.customer_check, tpb::CustomerCheck::Verified as i32);
        assert_eq!(t.priority, priority as i32, "{customer}");
        tickets.push(t);
    }
    let t = &tickets[0];
    let refused = s
        .create_ticket(complaint(&unknown_customer()))
        .await
        .expect_err("a ticket for a customer customers does not know");
    assert_status(&refused, Code::FailedPrecondition, "CUSTOMER_NOT_FOUND");

    let solved = s.solve(&t.name).await;
    let answer = s
        .tickets
        .submit_satisfaction(score(&t.name, &solved.survey_token, 1))
        .await
        .expect("survey answered")
        .into_inner();
    assert_eq!(
        (answer.goodwill_points, answer.goodwill_pending),
        (100, false)
    );
    assert_eq!(
        s.get_ticket(&t.name).await.status,
        tpb::Status::Open as i32,
        "a low score reopens the ticket for a follow-up"
    );
    assert_eq!(s.goodwill_notes(&t.name).await, 1);

    // The award reaches loyalty by the SatisfactionSubmitted event: once, however late.
    s.await_available(&wei, 6_000 + 100, ARRIVAL).await;
    let awards = s.goodwill_awards(&wei).await;
    assert_eq!(awards.len(), 1, "{awards:?}");
    assert_eq!(awards[0].wallet_delta, 100);
    assert!(awards[0].reason.contains(&t.name), "{awards:?}");
    s.assert_ledger_consistent(&wei).await;
}
