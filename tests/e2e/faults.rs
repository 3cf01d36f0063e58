//! A service stopped or killed mid-flow and restarted on the same storage.
mod backbone;
mod load;

use crate::harness::{Service, Suite, Topology, on_every_topology};
use crate::steps::{complaint, score};
use crm_proto::tickets as tpb;
use std::time::Duration;
use tokio::sync::mpsc;

/// Low scores submitted one every few milliseconds, each owing goodwill points.
const SURVEYS: usize = 30;
/// Answers received before loyalty is killed (the later surveys are still being sent).
const ANSWERS_BEFORE_KILL: usize = 8;

type Answer = Result<tpb::Satisfaction, tonic::Status>;

on_every_topology!(a_sigterm_drains_and_a_restart_keeps_the_data);

/// A SIGTERM (a pod deleted) ends the process cleanly, exit code 0, within its grace; started
/// again on the same storage (in the embedded suite: the whole suite) it serves what was
/// written before.
async fn a_sigterm_drains_and_a_restart_keeps_the_data(mut s: Suite) {
    let wei = s.create_customer("Wei").await;
    s.earn_purchase(&wei, "order-1", 12_300).await;
    let exit = s.process(Service::Loyalty).stop().await;
    assert!(
        exit.is_some_and(|e| e.success()),
        "loyalty exited with {exit:?}"
    );
    s.restart(Service::Loyalty).await;
    assert_eq!(s.balance(&wei).await.available, 123);
    s.assert_ledger_consistent(&wei).await;
}

/// `kill -9` loyalty in the middle of a stream of low scores, each owing goodwill points, and
/// restart it: every award lands exactly once. Tickets never waits for loyalty: every answer
/// is accepted with loyalty down too, and its award travels by the SatisfactionSubmitted
/// event, which loyalty applies once (its inbox) whether it had read it before the kill, was
/// cut mid-transaction, or reads it after the restart. Separate processes only (the
/// embedded suite is one process).
#[tokio::test]
async fn goodwill_lands_once_when_loyalty_is_killed_mid_stream() {
    // A short client deadline, so a call to the dead loyalty (the tier lookup) gives up soon.
    let extra = [("CRM_CLIENTS__TIMEOUT_MS", "1000")];
    let Some(mut s) = Suite::start_with(Topology::Separate, &extra).await else {
        return;
    };
    let customer = s.create_customer("Wei").await;
    let mut solved = Vec::new();
    for _ in 0..SURVEYS {
        let t = s.create_ticket(complaint(&customer)).await.expect("ticket");
        solved.push(s.solve(&t.name).await);
    }

    let mut answers = submit_every_2ms(&s, &solved);
    let mut answered = Vec::new();
    while answered.len() < ANSWERS_BEFORE_KILL {
        let a = next(&mut answers).await.expect("more answers");
        answered.push(a.expect("survey accepted"));
    }
    s.kill(Service::Loyalty);
    let at_kill = answered.len();
    while let Some(a) = next(&mut answers).await {
        // Stored, the ticket reopened and the award owed, with loyalty away too.
        answered.push(a.expect("survey accepted with loyalty down"));
    }
    assert_eq!(answered.len(), SURVEYS);
    assert!(
        answered.iter().all(|a| a.goodwill_points == 100),
        "{answered:?}"
    );
    eprintln!("loyalty killed after {at_kill} of {SURVEYS} answers");

    s.restart(Service::Loyalty).await;
    s.await_available(&customer, 100 * SURVEYS as i64, Duration::from_secs(30))
        .await;
    // A little later: still one award per survey, in tickets and in loyalty.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let awards = s.goodwill_awards(&customer).await;
    for t in &solved {
        assert_eq!(s.goodwill_notes(&t.name).await, 1, "notes of {}", t.name);
        let of_ticket = awards.iter().filter(|a| a.reason.contains(&t.name));
        assert_eq!(of_ticket.count(), 1, "awards for {}: {awards:?}", t.name);
    }
    assert_eq!(awards.len(), SURVEYS, "{awards:?}");
    assert_eq!(s.balance(&customer).await.available, 100 * SURVEYS as i64);
    s.assert_ledger_consistent(&customer).await;
}

/// Submits a low score for each ticket, one every 2 ms without waiting for the answers,
/// which arrive on the returned channel (closed after the last).
fn submit_every_2ms(s: &Suite, solved: &[tpb::Ticket]) -> mpsc::UnboundedReceiver<Answer> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (client, solved) = (s.tickets.clone(), solved.to_vec());
    tokio::spawn(async move {
        for t in solved {
            let (mut client, tx) = (client.clone(), tx.clone());
            tokio::spawn(async move {
                let answer = client
                    .submit_satisfaction(score(&t.name, &t.survey_token, 1))
                    .await;
                let _ = tx.send(answer.map(tonic::Response::into_inner));
            });
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    rx
}

async fn next(answers: &mut mpsc::UnboundedReceiver<Answer>) -> Option<Answer> {
    tokio::time::timeout(Duration::from_secs(15), answers.recv())
        .await
        .expect("a survey answered in time")
}
