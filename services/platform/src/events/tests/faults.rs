//! Failures: racing replicas, Redis away, poison events.
use super::*;
use crate::testing::{TcpProxy, backends, each_backend, host_port, via_port};

fn postgres_and_redis() -> Option<String> {
    backends()
        .contains(&Backend::Postgres)
        .then(crate::testing::redis_url)
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consumers_of_one_group_never_apply_an_event_twice() {
    let Some(redis) = postgres_and_redis() else {
        return;
    };
    let mut s = settings(&redis);
    s.claim_idle_ms = 120; // reclaims race the slow handler
    s.handler_timeout_ms = 100;
    s.max_attempts = 100;
    let events = events(Backend::Postgres, &s).await;
    let all: Vec<Envelope> = (0..150)
        .map(|n| event(&events, &format!("things/{}", n % 10), n))
        .collect();
    commit(&events.db, &all).await;
    drain(&events.relay()).await;
    // And every event a second time, as after a relay crash: the replicas race on the copies.
    events
        .bus()
        .publish(&events.stream("producer"), &all, 100_000)
        .await
        .expect("publish");
    let replicas: Vec<_> = (0..2)
        .map(|i| {
            let mut handler = Record::new("record");
            handler.delay = Duration::from_millis(if i == 0 { 3 } else { 1 });
            events.consumer("producer", "record", handler)
        })
        .collect();
    let stats: Vec<_> = replicas.iter().map(Consumer::stats).collect();
    let tasks: Vec<_> = replicas
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                loop {
                    c.run().await.expect("run");
                }
            })
        })
        .collect();
    eventually(Duration::from_secs(30), "every delivery handled", || {
        let sum = |f: fn(&ConsumerStats) -> u64| stats.iter().map(|s| f(s)).sum::<u64>();
        let applied = sum(|s| s.applied.load(Ordering::SeqCst));
        applied >= 150 && applied + sum(|s| s.duplicates.load(Ordering::SeqCst)) >= 300
    })
    .await;
    for t in tasks {
        t.abort();
    }
    let rows = applied(&events.db, "producer.record").await;
    let mut distinct = rows.clone();
    distinct.dedup();
    assert_eq!(
        (rows.len(), distinct.len()),
        (150, 150),
        "applied exactly once each"
    );
    let work: Vec<u64> = stats
        .iter()
        .map(|s| s.applied.load(Ordering::SeqCst))
        .collect();
    assert_eq!(work.iter().sum::<u64>(), 150, "{work:?}");
    let dups: u64 = stats
        .iter()
        .map(|s| s.duplicates.load(Ordering::SeqCst))
        .sum();
    assert!(dups >= 1, "the copies were recognised: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_away_while_producing_loses_nothing() {
    let Some(redis) = postgres_and_redis() else {
        return;
    };
    let proxy = TcpProxy::start(host_port(&redis)).await;
    let s = settings(&via_port(&redis, proxy.port));
    let events = events(Backend::Postgres, &s).await;
    let mut jobs = Jobs::new();
    let relay = events.start_relay(&mut jobs);
    let stats = events.start_consumer(&mut jobs, "producer", "record", Record::new("record"));
    let batch = |from: u64| -> Vec<Envelope> {
        (from..from + 20)
            .map(|n| event(&events, "things/1", n))
            .collect()
    };
    commit(&events.db, &batch(0)).await;
    eventually(Duration::from_secs(10), "the first events applied", || {
        stats.applied.load(Ordering::SeqCst) == 20
    })
    .await;
    proxy.black_hole();
    commit(&events.db, &batch(20)).await;
    commit(&events.db, &batch(40)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let lag = relay.lag().await.expect("lag");
    assert_eq!(lag.unsent, 40, "the rows wait in the outbox");
    assert!(lag.oldest_unsent_age > Duration::ZERO);
    assert!(relay.stats().bus_failures.load(Ordering::SeqCst) > 0);
    proxy.restore();
    eventually(
        Duration::from_secs(20),
        "every event applied after the outage",
        || stats.applied.load(Ordering::SeqCst) >= 60,
    )
    .await;
    jobs.stop().await;
    let rows = applied(&events.db, "producer.record").await;
    assert_eq!(rows.len(), 60);
    assert_eq!(
        rows.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        (0..60).collect::<Vec<_>>()
    );
    assert_eq!(relay.lag().await.expect("lag").unsent, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_event_is_dead_lettered_after_max_attempts_and_replay_redrives_it() {
    each_backend(|backend| async move {
        let s = settings(&redis_for(backend));
        let events = events(backend, &s).await;
        commit(
            &events.db,
            &[
                event(&events, "things/poison", 1),
                event(&events, "things/fine", 2),
            ],
        )
        .await;
        drain(&events.relay()).await;
        let mut handler = Record::new("record");
        handler.poison = Some("things/poison".into());
        let fixed = handler.fixed.clone();
        let mut consumer = events.consumer("producer", "record", handler);
        let mut bystander = events.consumer("producer", "other", Record::new("other"));
        run_until(&mut bystander, |s| s.applied.load(Ordering::SeqCst) == 2).await;
        let started = Instant::now();
        run_until(&mut consumer, |s| {
            s.dead_lettered.load(Ordering::SeqCst) == 1
        })
        .await;
        let stats = consumer.stats();
        assert_eq!(
            stats.applied.load(Ordering::SeqCst),
            1,
            "the poison blocked nothing"
        );
        assert_eq!(
            stats.failures.load(Ordering::SeqCst),
            3,
            "max_attempts deliveries"
        );
        assert!(
            started.elapsed() >= Duration::from_millis(2 * s.claim_idle_ms),
            "retried after the idle timeout"
        );
        let dead = events
            .dead_letters("producer", TimeRange::all(), 10)
            .await
            .expect("dead letters");
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (dead[0].group.as_str(), dead[0].deliveries),
            ("producer.record", 3)
        );
        assert!(
            dead[0].error.contains("poison things/poison"),
            "{}",
            dead[0].error
        );
        // Fixed: replay re-drives it for its group only.
        fixed.store(true, Ordering::SeqCst);
        // Through the `replay` subcommand's function where the bus outlives the process.
        let replayed = if s.redis_url.is_empty() {
            events
                .replay("producer", TimeRange::all())
                .await
                .expect("replay")
        } else {
            crate::events::replay_dead_letters(&s, "producer", TimeRange::all())
                .await
                .expect("replay")
        };
        assert_eq!(replayed, 1);
        run_until(&mut consumer, |s| s.applied.load(Ordering::SeqCst) == 2).await;
        run_until(&mut bystander, |s| s.skipped.load(Ordering::SeqCst) == 1).await;
        assert_eq!(applied(&events.db, "producer.record").await.len(), 2);
        assert_eq!(
            applied(&events.db, "producer.other").await.len(),
            2,
            "not applied twice elsewhere"
        );
        assert!(
            events
                .dead_letters("producer", TimeRange::all(), 10)
                .await
                .expect("dead")
                .is_empty()
        );
    })
    .await;
}
