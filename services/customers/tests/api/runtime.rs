//! The shared runtime as a service sees it: undecodable requests, a database that goes away
//! or is not there at start.
use crate::harness::*;
use crm_platform::testing::{Backend, TcpProxy, auth, backends, host_port, raw_call, via_port};
use crm_proto::customers as pb;
use std::time::{Duration, Instant};
use tonic::Code;

#[tokio::test]
async fn undecodable_requests_are_invalid_argument_not_internal() {
    let mut app = spawn_app(Backend::Sqlite).await;
    let garbage = raw_call(
        crm_platform::testing::channel(app.port).await,
        "/crm.customers.v1.CustomerService/CreateCustomer",
        vec![0xff, 0xff, 0xff, 0xff, 0x0f, 0x01],
        &[("authorization", &authorization())],
    )
    .await
    .expect_err("garbage");
    assert_status(&garbage, Code::InvalidArgument, "MALFORMED_REQUEST");
    // Deeper than prost's recursion limit: encodes fine, cannot be decoded.
    let mut nested = prost_types::Struct::default();
    for _ in 0..90 {
        let mut outer = prost_types::Struct::default();
        outer.fields.insert(
            "a".into(),
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StructValue(nested)),
            },
        );
        nested = outer;
    }
    let deep = app
        .client
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(pb::Customer {
                attributes: Some(nested),
                ..person("Deep", "deep@example.com")
            }),
            request_id: rid(),
        })
        .await
        .expect_err("too deep");
    assert_status(&deep, Code::InvalidArgument, "MALFORMED_REQUEST");
    // The server is fine afterwards.
    app.create(person("Ok", "ok@example.com")).await;
}

/// A fresh PostgreSQL database reached through a proxy, if PostgreSQL is configured.
async fn proxied_postgres() -> Option<(TcpProxy, Storage)> {
    if !backends().contains(&Backend::Postgres) {
        eprintln!("=== SKIPPED: needs PostgreSQL (run `make test`) ===");
        return None;
    }
    let storage = Storage::fresh(Backend::Postgres).await;
    let proxy = TcpProxy::start(host_port(&storage.database_url)).await;
    let database_url = via_port(&storage.database_url, proxy.port);
    Some((
        proxy,
        Storage {
            database_url,
            ..storage
        },
    ))
}

async fn health_is_not_serving(addr: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if crm_platform::cli::healthcheck(addr, crm_customers::GRPC_SERVICE, Duration::from_secs(1))
            .await
            .is_err_and(|e| e.to_string().contains("NOT_SERVING"))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn calls_fail_fast_while_postgres_is_unreachable_and_recover_by_themselves() {
    let Some((proxy, storage)) = proxied_postgres().await else {
        return;
    };
    let mut app = spawn_app_on(storage).await;
    let addr = format!("127.0.0.1:{}", app.port);
    assert!(wait_serving(&addr, crm_customers::GRPC_SERVICE).await);
    let c = app.create(person("Ida", "ida@example.com")).await;
    // A partition: connections open, nothing answers (the worst case for a pool).
    proxy.black_hole();
    assert!(
        health_is_not_serving(&addr, Duration::from_secs(6)).await,
        "health turns NOT_SERVING"
    );
    for _ in 0..3 {
        let started = Instant::now();
        let err = app
            .get(&format!("customers/{}", uuid::Uuid::now_v7()))
            .await
            .expect_err("database away");
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "failed fast, not after the pool's acquire timeout: {:?}",
            started.elapsed()
        );
        assert_status(&err, Code::Unavailable, "DATABASE_UNAVAILABLE");
    }
    proxy.restore();
    assert!(
        wait_serving(&addr, crm_customers::GRPC_SERVICE).await,
        "serving again by itself"
    );
    assert_eq!(app.get(&c.name).await.expect("read").name, c.name);
    app.create(person("Jo", "jo@example.com")).await;
}

#[tokio::test]
async fn a_service_started_without_its_database_waits_not_serving_then_serves() {
    let Some((proxy, storage)) = proxied_postgres().await else {
        return;
    };
    proxy.cut();
    let mut s = crm_customers::Settings::load(None).expect("settings");
    storage.apply(&mut s.platform);
    s.platform.database.connect_timeout_ms = 500;
    s.platform.database.acquire_timeout_ms = 500;
    let app = tokio::time::timeout(Duration::from_secs(10), crm_customers::application(s))
        .await
        .expect("builds without waiting for the database")
        .expect("does not give up without its database");
    let app_port = app.port();
    let addr = format!("127.0.0.1:{app_port}");
    tokio::spawn(app.run_until(std::future::pending()));
    assert!(health_is_not_serving(&addr, Duration::from_secs(3)).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        health_is_not_serving(&addr, Duration::from_secs(1)).await,
        "still up, still NOT_SERVING"
    );
    proxy.restore();
    let mut serving = false;
    for _ in 0..3 {
        serving |= wait_serving(&addr, crm_customers::GRPC_SERVICE).await;
    }
    assert!(serving, "migrated in the background, then SERVING");
    let mut client = client_as(
        app_port,
        auth::SUBJECT,
        &auth::scopes_of(crm_customers::grpc::policy::POLICY),
    )
    .await;
    client
        .create_customer(pb::CreateCustomerRequest {
            customer: Some(person("Kim", "kim@example.com")),
            request_id: rid(),
        })
        .await
        .expect("works once migrated");
}
