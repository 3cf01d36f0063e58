//! Outbox -> relay -> bus -> consumer on SQLite with the in-process bus, and on PostgreSQL
//! with Redis.
use super::*;
use crate::testing::each_backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_write_publishes_nothing_and_a_committed_one_is_delivered_once() {
    each_backend(|backend| async move {
        let s = settings(&redis_for(backend));
        let events = events(backend, &s).await;
        let db = events.db.clone();
        let rolled_back = event(&events, "things/1", 1);
        let txn = db.begin().await.expect("begin");
        outbox::append(&txn, &rolled_back).await.expect("append");
        txn.rollback().await.expect("rollback");
        let committed = event(&events, "things/1", 2);
        commit(&db, std::slice::from_ref(&committed)).await;
        // The jobs a service starts: the relay and a consumer.
        let mut jobs = Jobs::new();
        let relay = events.start_relay(&mut jobs);
        let stats = events.start_consumer(&mut jobs, "producer", "record", Record::new("record"));
        eventually(Duration::from_secs(10), "the event applied", || {
            stats.applied.load(Ordering::SeqCst) >= 1
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await; // room for a wrong second one
        jobs.stop().await;
        assert_eq!(
            applied(&db, "producer.record").await,
            [("things/1".to_owned(), 2)]
        );
        assert!(
            inbox::contains(&db, "producer.record", committed.id)
                .await
                .expect("inbox")
        );
        assert_eq!(
            events
                .bus()
                .len(&events.stream("producer"))
                .await
                .expect("len"),
            1,
            "the rolled-back event never reached the bus"
        );
        assert_eq!(relay.lag().await.expect("lag"), OutboxLag::default());
        assert_eq!(relay.stats().published.load(Ordering::SeqCst), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_relay_is_woken_by_an_append_of_its_process() {
    each_backend(|backend| async move {
        let mut s = settings(&redis_for(backend));
        // Unwoken, an idle relay of 10 ms doubling up to a minute waits 10, 20, ... 1,280 ms:
        // its run after 1.5 s of idling would be at 2.55 s.
        s.relay_idle_max_ms = 60_000;
        let events = events(backend, &s).await;
        let mut jobs = Jobs::new();
        let relay = events.start_relay(&mut jobs);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let appended = Instant::now();
        commit(&events.db, &[event(&events, "things/1", 1)]).await;
        eventually(Duration::from_secs(10), "the event published", || {
            relay.stats().published.load(Ordering::SeqCst) == 1
        })
        .await;
        jobs.stop().await;
        let waited = appended.elapsed();
        assert!(
            waited < Duration::from_millis(500),
            "published {waited:?} after the append, not at the relay's next idle poll"
        );
    })
    .await;
}

#[tokio::test]
async fn a_redelivered_event_is_only_acknowledged() {
    each_backend(|backend| async move {
        let s = settings(&redis_for(backend));
        let events = events(backend, &s).await;
        let e = event(&events, "things/1", 1);
        // Published twice, as by a relay that stopped before marking its batch sent.
        let stream = events.stream("producer");
        for _ in 0..2 {
            events
                .bus()
                .publish(&stream, std::slice::from_ref(&e), 1000)
                .await
                .expect("publish");
        }
        let mut consumer = events.consumer("producer", "record", Record::new("record"));
        let stats = consumer.stats();
        run_until(&mut consumer, |s| {
            s.applied.load(Ordering::SeqCst) + s.duplicates.load(Ordering::SeqCst) >= 2
        })
        .await;
        assert_eq!(stats.applied.load(Ordering::SeqCst), 1);
        assert_eq!(stats.duplicates.load(Ordering::SeqCst), 1);
        assert_eq!(applied(&events.db, "producer.record").await.len(), 1);
        let mut check = events.bus().subscribe(&stream, "producer.record", "check");
        assert_eq!(
            check.pending().await.expect("pending"),
            0,
            "both acknowledged"
        );
    })
    .await;
}

#[tokio::test]
async fn handlers_see_only_their_event_types() {
    struct OnlyCreated(Record);
    impl Handler for OnlyCreated {
        fn event_types(&self) -> &[&str] {
            &["crm.test.v1.thing.created"]
        }
        async fn handle(&self, txn: &DatabaseTransaction, event: &Envelope) -> Result<(), Error> {
            self.0.handle(txn, event).await
        }
    }
    let s = settings("");
    let events = events(Backend::Sqlite, &s).await;
    let created = events.envelope("crm.test.v1.thing.created", "things/1", b"1".to_vec());
    commit(&events.db, &[event(&events, "things/1", 0), created]).await;
    drain(&events.relay()).await;
    let mut consumer = events.consumer("producer", "created", OnlyCreated(Record::new("created")));
    run_until(&mut consumer, |s| s.applied.load(Ordering::SeqCst) == 1).await;
    assert_eq!(consumer.stats().skipped.load(Ordering::SeqCst), 1);
    assert_eq!(
        applied(&events.db, "producer.created").await,
        [("things/1".to_owned(), 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_subject_order_is_kept_across_two_relays() {
    each_backend(|backend| async move {
        let mut s = settings(&redis_for(backend));
        s.relay_batch = 7; // many small batches, so the relays interleave
        let events = events(backend, &s).await;
        let subjects = ["a", "b", "c", "d", "e"];
        for n in 0..40_u64 {
            let batch: Vec<Envelope> = subjects.iter().map(|x| event(&events, x, n)).collect();
            commit(&events.db, &batch).await;
        }
        // PostgreSQL: two replicas' relays at once; SQLite has one relay per database.
        let relays = match backend {
            Backend::Postgres => vec![events.relay(), events.relay()],
            Backend::Sqlite => vec![events.relay()],
        };
        let runs = relays.iter().map(drain);
        futures::future::join_all(runs).await;
        let published: u64 = relays
            .iter()
            .map(|r| r.stats().published.load(Ordering::SeqCst))
            .sum();
        assert!(published >= 200, "{published}");
        let stream = events.stream("producer");
        let mut reader = events.bus().subscribe(&stream, "check", "c");
        let mut last: std::collections::HashMap<String, i64> = Default::default();
        let mut seen = 0;
        while seen < 200 {
            let got = reader
                .read(100, Duration::from_millis(200))
                .await
                .expect("read");
            assert!(!got.is_empty(), "only {seen} of 200 published");
            for d in got {
                let e = d.envelope().expect("envelope");
                let n: i64 = String::from_utf8_lossy(&e.payload).parse().expect("n");
                let prev = last.insert(e.subject.clone(), n).unwrap_or(-1);
                assert!(n > prev, "{}: {n} published after {prev}", e.subject);
                seen += 1;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn an_entry_that_is_no_envelope_is_dead_lettered_at_once() {
    each_backend(|backend| async move {
        let s = settings(&redis_for(backend));
        let events = events(backend, &s).await;
        let junk: Fields = vec![("hello".into(), b"world".to_vec())];
        let stream = events.stream("producer");
        events
            .bus()
            .append(&stream, vec![junk], 1000)
            .await
            .expect("append");
        let mut consumer = events.consumer("producer", "record", Record::new("record"));
        run_until(&mut consumer, |s| {
            s.dead_lettered.load(Ordering::SeqCst) == 1
        })
        .await;
        assert_eq!(
            consumer.stats().failures.load(Ordering::SeqCst),
            0,
            "never handled"
        );
        let dead = events
            .dead_letters("producer", TimeRange::all(), 10)
            .await
            .expect("dead");
        assert_eq!(dead.len(), 1);
        assert!(
            dead[0].error.contains("missing field id"),
            "{}",
            dead[0].error
        );
        assert!(dead[0].envelope.is_err());
    })
    .await;
}
