//! The commit hook: told of exactly the events a transaction applied, once it committed.
use super::*;
use crate::testing::each_backend;
use std::collections::HashSet;

/// A `Record` handler whose commit hook notes what it is told, checked against `db`.
fn noting(events: &Events, poison: Option<&str>) -> (Record, Commits) {
    let commits = Commits::default();
    let mut handler = Record::new("record");
    handler.poison = poison.map(str::to_owned);
    handler.commits = Some((events.db.clone(), commits.clone()));
    (handler, commits)
}

fn calls(commits: &Commits) -> Vec<Vec<(uuid::Uuid, bool)>> {
    commits.lock().expect("commits").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_is_told_of_each_applied_event_once_after_its_commit() {
    each_backend(|backend| async move {
        let s = settings(&redis_for(backend));
        let events = events(backend, &s).await;
        let stream = events.stream("producer");
        let first: Vec<Envelope> = (0..6)
            .map(|n| event(&events, &format!("things/{}", n % 3), n))
            .collect();
        commit(&events.db, &first).await;
        drain(&events.relay()).await;
        let (handler, commits) = noting(&events, None);
        let mut consumer = events.consumer("producer", "record", handler);
        let stats = consumer.stats();
        run_until(&mut consumer, |s| s.applied.load(Ordering::SeqCst) == 6).await;
        assert_eq!(stats.batches.load(Ordering::SeqCst), 1, "{stats:?}");
        let got = calls(&commits);
        assert_eq!(got.len(), 1, "one call for the batch: {got:?}");
        let told: HashSet<uuid::Uuid> = got[0].iter().map(|(id, _)| *id).collect();
        let want: HashSet<uuid::Uuid> = first.iter().map(|e| e.id).collect();
        assert_eq!((told.len(), &told), (6, &want), "each applied event once");
        assert!(
            got[0].iter().all(|(_, seen)| *seen),
            "rows visible: {got:?}"
        );
        // Copies only acknowledged and a lone new event (its own transaction).
        let new = event(&events, "things/9", 9);
        events
            .bus()
            .publish(&stream, &first[..2], 1000)
            .await
            .expect("publish copies");
        run_until(&mut consumer, |s| s.duplicates.load(Ordering::SeqCst) == 2).await;
        events
            .bus()
            .publish(&stream, std::slice::from_ref(&new), 1000)
            .await
            .expect("publish");
        run_until(&mut consumer, |s| s.applied.load(Ordering::SeqCst) == 7).await;
        let got = calls(&commits);
        assert_eq!(
            got[1..].to_vec(),
            vec![vec![(new.id, true)]],
            "copies are not applied, so never told of"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_is_never_told_of_a_rolled_back_transaction() {
    each_backend(|backend| async move {
        let s = settings(&redis_for(backend));
        let events = events(backend, &s).await;
        let subject = |n: u64| if n == 2 { "things/poison" } else { "things/a" };
        let all: Vec<Envelope> = (0..5).map(|n| event(&events, subject(n), n)).collect();
        commit(&events.db, &all).await;
        drain(&events.relay()).await;
        let (handler, commits) = noting(&events, Some("things/poison"));
        let mut consumer = events.consumer("producer", "record", handler);
        run_until(&mut consumer, |s| s.applied.load(Ordering::SeqCst) == 4).await;
        let stats = consumer.stats();
        assert_eq!(stats.batches.load(Ordering::SeqCst), 0, "{stats:?}");
        let got = calls(&commits);
        // The batch rolled back: each event then alone, the poison failing.
        assert_eq!(got.len(), 4, "one call per committed event: {got:?}");
        let told: Vec<uuid::Uuid> = got.iter().flatten().map(|(id, _)| *id).collect();
        let want: Vec<uuid::Uuid> = all
            .iter()
            .filter(|e| e.subject != "things/poison")
            .map(|e| e.id)
            .collect();
        let mut sorted = told.clone();
        sorted.sort();
        let mut want_sorted = want.clone();
        want_sorted.sort();
        assert_eq!(sorted, want_sorted, "never the failed event, none twice");
        assert!(got.iter().flatten().all(|(_, seen)| *seen), "{got:?}");
    })
    .await;
}
