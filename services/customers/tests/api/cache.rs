//! The cache is an optimisation: reads survive Redis going away, and no replica serves
//! stale data after a write.
use crate::harness::*;
use crm_platform::testing::{Backend, TcpProxy, backends};
use crm_proto::customers as pb;
use std::time::Duration;

fn redis_target() -> Option<String> {
    if !backends().contains(&Backend::Postgres) {
        eprintln!("=== SKIPPED: Redis cache tests need PostgreSQL + Redis (run `make test`) ===");
        return None;
    }
    let url = crm_platform::testing::redis_url()?;
    Some(
        url.trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned(),
    )
}

#[tokio::test]
async fn reads_and_writes_survive_redis_going_down() {
    let Some(target) = redis_target() else { return };
    let proxy = TcpProxy::start(target).await;
    let storage = Storage {
        redis_url: Some(format!("redis://127.0.0.1:{}", proxy.port)),
        ..Storage::fresh(Backend::Postgres).await
    };
    let mut app = spawn_app_on(storage).await;
    let c = app.create(person("Fay", "fay@example.com")).await;
    for _ in 0..100 {
        if app.service.cache().remote_connected() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        app.service.cache().remote_connected(),
        "redis tier connected through the proxy"
    );
    let _ = app.get(&c.name).await.expect("warm the cache");
    assert_eq!(app.service.cache().stats().remote_errors, 0);
    proxy.cut();
    let started = std::time::Instant::now();
    assert_eq!(
        app.get(&c.name).await.expect("read with redis down").name,
        c.name
    );
    let updated = app
        .update(
            pb::Customer {
                name: c.name.clone(),
                display_name: "Fay 2".into(),
                ..Default::default()
            },
            &["display_name"],
        )
        .await
        .expect("write with redis down");
    assert_eq!(updated.display_name, "Fay 2");
    assert_eq!(
        app.get(&c.name).await.expect("read").display_name,
        "Fay 2",
        "no stale read after our own write"
    );
    let other = app.create(person("Gus", "gus@example.com")).await;
    assert_eq!(
        app.get(&other.name).await.expect("read").display_name,
        "Gus"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "redis outage must not stall calls: {:?}",
        started.elapsed()
    );
    assert!(
        app.service.cache().stats().remote_errors > 0,
        "the outage was noticed and counted"
    );

    proxy.restore();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        app.get(&c.name).await.expect("read").display_name,
        "Fay 2",
        "still fresh after redis returns"
    );
}

#[tokio::test]
async fn a_write_on_one_replica_invalidates_the_others() {
    let Some(_) = redis_target() else { return };
    let mut a = spawn_app(Backend::Postgres).await;
    let mut b = spawn_app_on(a.storage.clone()).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // both subscribed
    let c = a.create(person("Hal", "hal@example.com")).await;
    assert_eq!(b.get(&c.name).await.expect("b caches").display_name, "Hal");
    assert_eq!(b.get(&c.name).await.expect("b hit").display_name, "Hal");
    a.update(
        pb::Customer {
            name: c.name.clone(),
            display_name: "Hal 2".into(),
            ..Default::default()
        },
        &["display_name"],
    )
    .await
    .expect("update on a");
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let seen = b.get(&c.name).await.expect("b reads").display_name;
        if seen == "Hal 2" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "replica b still serves {seen:?} 2s after the write"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_write_whose_invalidation_missed_redis_is_not_served_stale_by_other_replicas() {
    let Some(target) = redis_target() else { return };
    let proxy = TcpProxy::start(target).await;
    let storage = Storage::fresh(Backend::Postgres).await;
    let local_ttl = Duration::from_millis(1000);
    let tweak = |s: &mut crm_customers::Settings| {
        s.platform.cache.local_ttl_ms = local_ttl.as_millis() as u64;
    };
    // The writer reaches Redis through the proxy; the reader directly.
    let mut writer = spawn_app_with(
        Storage {
            redis_url: Some(format!("redis://127.0.0.1:{}", proxy.port)),
            ..storage.clone()
        },
        tweak,
    )
    .await;
    let mut reader = spawn_app_with(storage, tweak).await;
    for _ in 0..100 {
        if writer.service.cache().remote_connected() && reader.service.cache().remote_connected() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let c = writer.create(person("Lee", "lee@example.com")).await;
    // The reader caches version 1 in Redis and in its own memory, once the tombstone the
    // create left in Redis (at most 5 s) is gone.
    tokio::time::sleep(Duration::from_millis(5200)).await;
    assert_eq!(reader.get(&c.name).await.expect("read").display_name, "Lee");
    assert_eq!(reader.get(&c.name).await.expect("hit").display_name, "Lee");
    assert!(reader.service.cache().stats().local_hits >= 1);
    proxy.cut();
    writer
        .update(
            pb::Customer {
                name: c.name.clone(),
                display_name: "Lee 2".into(),
                ..Default::default()
            },
            &["display_name"],
        )
        .await
        .expect("the write commits without redis");
    let written = std::time::Instant::now();
    loop {
        let seen = reader.get(&c.name).await.expect("reader").display_name;
        if seen == "Lee 2" {
            break;
        }
        assert!(
            written.elapsed() < local_ttl + Duration::from_millis(500),
            "the reader still serves {seen:?} {:?} after the write",
            written.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Once its local copy is gone, the old value is not read back from Redis either.
    tokio::time::sleep(local_ttl + Duration::from_millis(200)).await;
    for _ in 0..3 {
        assert_eq!(
            reader.get(&c.name).await.expect("reader").display_name,
            "Lee 2"
        );
    }
    assert_eq!(
        reader.service.cache().current_generation(),
        writer.service.cache().current_generation(),
        "both replicas on the generation the writer moved to"
    );
    proxy.restore();
}
