//! The bus semantics, checked on the in-process backend and (with `CRM_TEST_REDIS_URL`) on
//! Redis Streams by the same test bodies.
use super::*;

/// The buses to check: an in-process one of its own, and the test Redis when there is one.
fn buses() -> Vec<(&'static str, EventBus, String)> {
    let mut out = vec![(
        "in-process",
        EventBus::isolated_in_process(),
        random_prefix(),
    )];
    if let Some(url) = crate::testing::redis_url() {
        let bus = EventBus::from_settings(&settings(&url)).expect("redis bus");
        out.push(("redis", bus, random_prefix()));
    }
    out
}

fn envelope(subject: &str, n: u64) -> Envelope {
    Envelope::new(
        "producer",
        "crm.test.v1.thing.changed",
        subject,
        n.to_string().into_bytes(),
    )
}

fn ns(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| String::from_utf8_lossy(&d.envelope().expect("envelope").payload).into_owned())
        .collect()
}

const WAIT: Duration = Duration::from_millis(50);

#[tokio::test]
async fn each_group_reads_every_entry_once_and_entries_stay_pending_until_acked() {
    for (name, bus, prefix) in buses() {
        eprintln!("-- bus {name}");
        let stream = format!("{prefix}:events:a");
        let mut first = bus.subscribe(&stream, "g1", "c1");
        let mut other = bus.subscribe(&stream, "g1", "c2");
        let mut second = bus.subscribe(&stream, "g2", "c1");
        // A group created before anything is published still reads from the start.
        assert!(first.read(10, WAIT).await.expect("read").is_empty());
        let events: Vec<Envelope> = (1..=3).map(|n| envelope("s", n)).collect();
        bus.publish(&stream, &events, 1000).await.expect("publish");
        let got = first.read(2, WAIT).await.expect("read");
        assert_eq!(
            ns(&got),
            ["1", "2"],
            "{name}: oldest first, bounded by count"
        );
        assert!(got.iter().all(|d| d.deliveries == 1));
        assert_eq!(
            ns(&other.read(10, WAIT).await.expect("read")),
            ["3"],
            "{name}: the group's other consumer gets the rest"
        );
        assert!(
            first.read(10, WAIT).await.expect("read").is_empty(),
            "{name}: nothing twice"
        );
        assert_eq!(
            ns(&second.read(10, WAIT).await.expect("read")),
            ["1", "2", "3"],
            "{name}: another group reads everything"
        );
        assert_eq!(first.pending().await.expect("pending"), 3);
        first.ack(&[got[0].entry_id.clone()]).await.expect("ack");
        assert_eq!(first.pending().await.expect("pending"), 2, "{name}");
        assert_eq!(bus.len(&stream).await.expect("len"), 3);
    }
}

#[tokio::test]
async fn a_blocking_read_wakes_on_publish_and_gives_up_after_its_block() {
    for (name, bus, prefix) in buses() {
        eprintln!("-- bus {name}");
        let stream = format!("{prefix}:events:b");
        let mut sub = bus.subscribe(&stream, "g", "c");
        let started = Instant::now();
        assert!(
            sub.read(1, Duration::from_millis(200))
                .await
                .expect("read")
                .is_empty()
        );
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited < Duration::from_secs(2),
            "{name}: {waited:?}"
        );
        let publisher = bus.clone();
        let s = stream.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            publisher
                .publish(&s, &[envelope("s", 7)], 1000)
                .await
                .expect("publish");
        });
        let started = Instant::now();
        let got = sub.read(1, Duration::from_secs(5)).await.expect("read");
        assert_eq!(ns(&got), ["7"], "{name}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name}: woken by the publish"
        );
    }
}

#[tokio::test]
async fn idle_entries_are_reclaimed_with_their_delivery_count() {
    for (name, bus, prefix) in buses() {
        eprintln!("-- bus {name}");
        let stream = format!("{prefix}:events:c");
        let mut crashed = bus.subscribe(&stream, "g", "crashed");
        let mut rescuer = bus.subscribe(&stream, "g", "rescuer");
        bus.publish(&stream, &[envelope("s", 1), envelope("s", 2)], 1000)
            .await
            .expect("publish");
        assert_eq!(crashed.read(10, WAIT).await.expect("read").len(), 2);
        let idle = Duration::from_millis(150);
        assert!(
            rescuer.reclaim(idle, 10).await.expect("reclaim").is_empty(),
            "{name}: not idle yet"
        );
        tokio::time::sleep(idle + Duration::from_millis(50)).await;
        let got = rescuer.reclaim(idle, 1).await.expect("reclaim");
        assert_eq!(ns(&got), ["1"], "{name}: bounded by count");
        assert_eq!(got[0].deliveries, 2, "{name}");
        rescuer.ack(&[got[0].entry_id.clone()]).await.expect("ack");
        let mut rest = rescuer.reclaim(idle, 10).await.expect("reclaim");
        if rest.is_empty() {
            // Redis continues from its cursor; the next scan starts over.
            rest = rescuer.reclaim(idle, 10).await.expect("reclaim");
        }
        assert_eq!(ns(&rest), ["2"], "{name}");
        tokio::time::sleep(idle + Duration::from_millis(50)).await;
        let mut again = crashed.reclaim(idle, 10).await.expect("reclaim");
        if again.is_empty() {
            again = crashed.reclaim(idle, 10).await.expect("reclaim");
        }
        assert_eq!(
            again.first().map(|d| d.deliveries),
            Some(3),
            "{name}: counted again"
        );
    }
}

#[tokio::test]
async fn a_stream_keeps_its_newest_entries() {
    for (name, bus, prefix) in buses() {
        eprintln!("-- bus {name}");
        let stream = format!("{prefix}:events:d");
        let events: Vec<Envelope> = (0..5000).map(|n| envelope("s", n)).collect();
        bus.publish(&stream, &events, 1000).await.expect("publish");
        let len = bus.len(&stream).await.expect("len");
        // MAXLEN ~ trims whole nodes on Redis: about the limit, never all.
        assert!((1000..2000).contains(&len), "{name}: {len}");
        let mut late = bus.subscribe(&stream, "late", "c");
        let first = late.read(1, WAIT).await.expect("read");
        let n: u64 = ns(&first)[0].parse().expect("n");
        assert!(
            n >= 3000,
            "{name}: a new group starts at the oldest entry kept ({n})"
        );
    }
}

#[tokio::test]
async fn dead_letters_carry_the_error_and_replay_only_for_their_group() {
    for (name, bus, prefix) in buses() {
        eprintln!("-- bus {name}");
        let stream = format!("{prefix}:events:e");
        let mut failing = bus.subscribe(&stream, "failing", "c");
        let mut fine = bus.subscribe(&stream, "fine", "c");
        let poison = envelope("s", 1);
        bus.publish(&stream, std::slice::from_ref(&poison), 1000)
            .await
            .expect("publish");
        assert_eq!(fine.read(10, WAIT).await.expect("read").len(), 1);
        let got = failing.read(10, WAIT).await.expect("read");
        let before = chrono::Utc::now() - chrono::Duration::seconds(5);
        failing
            .dead_letter(&got[0], "boom")
            .await
            .expect("dead letter");
        assert_eq!(
            failing.pending().await.expect("pending"),
            0,
            "{name}: acknowledged"
        );
        let dead = bus
            .dead_letters(&stream, TimeRange::all(), 10)
            .await
            .expect("dead");
        assert_eq!(dead.len(), 1, "{name}");
        let d = &dead[0];
        assert_eq!(
            (d.group.as_str(), d.error.as_str(), d.deliveries),
            ("failing", "boom", 1)
        );
        assert_eq!(d.original_entry_id, got[0].entry_id);
        assert_eq!(d.envelope.as_ref().expect("envelope"), &poison);
        let earlier = TimeRange {
            from: None,
            to: Some(before),
        };
        assert_eq!(
            bus.replay(&stream, earlier, 1000).await.expect("replay"),
            0,
            "{name}: out of range"
        );
        let since = TimeRange {
            from: Some(before),
            to: None,
        };
        assert_eq!(
            bus.replay(&stream, since, 1000).await.expect("replay"),
            1,
            "{name}"
        );
        assert!(
            bus.dead_letters(&stream, TimeRange::all(), 10)
                .await
                .expect("dead")
                .is_empty()
        );
        let again = failing.read(10, WAIT).await.expect("read");
        assert_eq!(again.len(), 1, "{name}");
        assert_eq!(again[0].envelope().expect("envelope"), poison);
        assert_eq!(again[0].replay_for(), Some("failing"));
        let seen_by_fine = fine.read(10, WAIT).await.expect("read");
        assert_eq!(
            seen_by_fine[0].replay_for(),
            Some("failing"),
            "{name}: others can skip it"
        );
    }
}
