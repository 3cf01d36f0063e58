//! Merge: customers merges two customers into a survivor; loyalty moves the losers' wallets
//! and tickets re-points their tickets, both from the CustomerMerged event.
use crate::harness::{Deadline, Suite, on_every_topology};
use crate::steps::{complaint, purchase};
use std::time::Duration;

const ARRIVAL: Duration = Duration::from_secs(20);

on_every_topology!(a_merge_moves_the_losers_points_and_tickets_to_the_survivor);

/// Fang (2,000 points, silver) and Ming (no wallet) are merged into Wei (100 points): Wei's
/// wallet then holds 2,100 points on a valid chain and is silver, a later purchase recorded
/// for Fang earns on Wei's wallet at silver, and the losers' tickets are Wei's, each with a
/// system note naming the survivor.
pub(crate) async fn a_merge_moves_the_losers_points_and_tickets_to_the_survivor(mut s: Suite) {
    let wei = s.create_customer("Wei").await;
    let fang = s.create_customer("Fang").await;
    let ming = s.create_customer("Ming").await;
    s.record(&wei, purchase("order-w1", 10_000, None)).await;
    s.record(&fang, purchase("order-f1", 200_000, None)).await;
    s.await_available(&wei, 100, ARRIVAL).await;
    s.await_available(&fang, 2_000, ARRIVAL).await;
    let mut tickets = Vec::new();
    for loser in [&fang, &ming] {
        let t = s.create_ticket(complaint(loser)).await.expect("ticket");
        let notes = s.system_notes(&t.name).await.len();
        tickets.push((t.name, notes));
    }

    s.merge(&wei, &[&fang, &ming]).await;
    let moved = Deadline::after(ARRIVAL, "the losers' tickets to be Wei's");
    for (ticket, notes_before) in &tickets {
        while s.get_ticket(ticket).await.customer != wei {
            moved.wait().await;
        }
        let notes = s.system_notes(ticket).await;
        assert_eq!(notes.len(), notes_before + 1, "{ticket}: {notes:?}");
        assert!(notes.last().is_some_and(|n| n.contains(&wei)), "{notes:?}");
    }

    s.await_available(&wei, 2_100, ARRIVAL).await;
    assert_eq!(s.tier(&wei).await, "silver");
    s.assert_ledger_consistent(&wei).await;
    s.assert_ledger_consistent("").await;

    // Fang's later purchase lands in Wei's wallet, at Wei's (silver) multiplier.
    s.record(&fang, purchase("order-f2", 10_000, None)).await;
    s.await_available(&wei, 2_100 + 125, ARRIVAL).await;
    s.assert_ledger_consistent(&wei).await;
}
