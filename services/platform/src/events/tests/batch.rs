//! Batches: the deliveries of one read applied in one transaction, and what happens when one
//! of them fails or is a copy.
use super::*;
use crate::testing::each_backend;

/// Every `(subject, n)` applied by `group`, counted: applying one twice shows as a 2.
async fn applied_counts(db: &DatabaseConnection, group: &str) -> Vec<((String, i64), usize)> {
    let mut counts: Vec<((String, i64), usize)> = Vec::new();
    for row in applied(db, group).await {
        match counts.last_mut() {
            Some((last, n)) if *last == row => *n += 1,
            _ => counts.push((row, 1)),
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_a_failing_event_applies_the_others_once() {
    each_backend(|backend| async move {
        let s = settings(&redis_for(backend));
        let events = events(backend, &s).await;
        // The poison sits in the middle of one read, in stream and in subject order: the
        // events before it were applied in the batch's transaction when it failed.
        let subject = |n: u64| match n {
            5 => "things/poison",
            n if n < 5 => "things/a",
            _ => "things/z",
        };
        let all: Vec<Envelope> = (0..10).map(|n| event(&events, subject(n), n)).collect();
        commit(&events.db, &all).await;
        drain(&events.relay()).await;
        let mut handler = Record::new("record");
        handler.poison = Some("things/poison".into());
        let mut consumer = events.consumer("producer", "record", handler);
        run_until(&mut consumer, |s| s.applied.load(Ordering::SeqCst) == 9).await;
        let stats = consumer.stats();
        assert_eq!(stats.failures.load(Ordering::SeqCst), 1, "{stats:?}");
        assert_eq!(
            stats.batches.load(Ordering::SeqCst),
            0,
            "the batch rolled back"
        );
        let expected: Vec<((String, i64), usize)> = (0..10)
            .filter(|n| *n != 5)
            .map(|n| ((subject(n).to_owned(), n as i64), 1))
            .collect();
        assert_eq!(
            applied_counts(&events.db, "producer.record").await,
            expected,
            "each of the others applied exactly once"
        );
        for e in &all {
            let done = inbox::contains(&events.db, "producer.record", e.id)
                .await
                .expect("inbox");
            assert_eq!(done, e.subject != "things/poison", "{}", e.subject);
        }
        let mut check =
            events
                .bus()
                .subscribe(&events.stream("producer"), "producer.record", "check");
        assert_eq!(
            check.pending().await.expect("pending"),
            1,
            "only the poison waits for a retry"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_inside_a_batch_are_only_acknowledged() {
    each_backend(|backend| async move {
        let s = settings(&redis_for(backend));
        let events = events(backend, &s).await;
        let stream = events.stream("producer");
        let old: Vec<Envelope> = (0..3).map(|n| event(&events, "things/1", n)).collect();
        commit(&events.db, &old).await;
        drain(&events.relay()).await;
        let mut consumer = events.consumer("producer", "record", Record::new("record"));
        let stats = consumer.stats();
        run_until(&mut consumer, |s| s.applied.load(Ordering::SeqCst) == 3).await;
        assert_eq!(stats.batches.load(Ordering::SeqCst), 1, "{stats:?}");
        // One read: copies of applied events, new ones, and a second copy of a new one.
        let new: Vec<Envelope> = (3..8).map(|n| event(&events, "things/1", n)).collect();
        let mut copies = old.clone();
        copies.extend(new.iter().cloned());
        copies.push(new[2].clone());
        events
            .bus()
            .publish(&stream, &copies, 1000)
            .await
            .expect("publish");
        run_until(&mut consumer, |s| {
            s.applied.load(Ordering::SeqCst) + s.duplicates.load(Ordering::SeqCst) == 12
        })
        .await;
        assert_eq!(
            (
                stats.applied.load(Ordering::SeqCst),
                stats.duplicates.load(Ordering::SeqCst),
                stats.batches.load(Ordering::SeqCst),
            ),
            (8, 4, 2),
            "the copies skipped inside one batch: {stats:?}"
        );
        let expected: Vec<((String, i64), usize)> =
            (0..8).map(|n| (("things/1".to_owned(), n), 1)).collect();
        assert_eq!(
            applied_counts(&events.db, "producer.record").await,
            expected
        );
        let mut check = events.bus().subscribe(&stream, "producer.record", "check");
        assert_eq!(
            check.pending().await.expect("pending"),
            0,
            "all acknowledged"
        );
    })
    .await;
}
