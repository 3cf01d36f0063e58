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
