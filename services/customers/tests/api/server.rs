//! Health and reflection on every server.
use crate::harness::*;
use crm_platform::testing::Backend;

#[tokio::test]
async fn health_reports_serving_once_migrated_and_reflection_lists_services() {
    let app = spawn_app(Backend::Sqlite).await;
    let addr = format!("127.0.0.1:{}", app.port);
    let ok = wait_serving(&addr, crm_customers::GRPC_SERVICE).await;
    assert!(ok, "customers never became SERVING");
    crm_platform::cli::healthcheck(&addr, "", std::time::Duration::from_secs(1))
        .await
        .expect("whole server serving");
    assert!(
        crm_platform::cli::healthcheck(
            &addr,
            "crm.nope.v1.Nothing",
            std::time::Duration::from_secs(1)
        )
        .await
        .is_err()
    );

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut client = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("reflect")
        .into_inner();
    let resp = stream.message().await.expect("msg").expect("one response");
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected {resp:?}")
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for want in [crm_customers::GRPC_SERVICE, "grpc.health.v1.Health"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    // Only what this binary serves is advertised, and calling anything else says so.
    for other in [
        "crm.loyalty.v1.LoyaltyService",
        "crm.tickets.v1.TicketService",
    ] {
        assert!(
            !names.iter().any(|n| n == other),
            "{other} listed: {names:?}"
        );
    }
    let err = crm_platform::testing::raw_call(
        crm_platform::testing::channel(app.port).await,
        "/crm.loyalty.v1.LoyaltyService/GetWallet",
        Vec::new(),
        &[],
    )
    .await
    .expect_err("not served here");
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    assert!(
        err.message().contains("crm.loyalty.v1.LoyaltyService"),
        "{err:?}"
    );
    let err = crm_platform::testing::raw_call(
        crm_platform::testing::channel(app.port).await,
        "/crm.customers.v1.CustomerService/NoSuchMethod",
        Vec::new(),
        &[],
    )
    .await
    .expect_err("no such method");
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    assert!(err.message().contains("NoSuchMethod"), "{err:?}");
}

#[tokio::test]
async fn health_is_not_serving_while_the_schema_is_behind() {
    use crm_platform::config::Secret;
    let url = crm_platform::testing::fresh_database_url(Backend::Sqlite).await;
    let mut s = crm_customers::Settings::load(None).expect("settings");
    s.platform.server.port = 0;
    s.platform.database.url = Secret::new(url);
    s.platform.database.migrate_on_start = false;
    let app = crm_customers::application(s.clone()).await.expect("build");
    let addr = format!("127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until(std::future::pending()));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let err = crm_platform::cli::healthcheck(
        &addr,
        crm_customers::GRPC_SERVICE,
        std::time::Duration::from_secs(1),
    )
    .await
    .expect_err("not migrated");
    assert!(err.to_string().contains("NOT_SERVING"), "{err}");
    crm_customers::migrate(&s).await.expect("migrate");
    let serving = wait_serving(&addr, crm_customers::GRPC_SERVICE).await;
    assert!(serving, "serving after migrate");
}

#[tokio::test]
async fn shutdown_drains_and_stops_the_server() {
    use crm_platform::config::Secret;
    let url = crm_platform::testing::fresh_database_url(Backend::Sqlite).await;
    let mut s = crm_customers::Settings::load(None).expect("settings");
    s.platform.server.port = 0;
    s.platform.server.shutdown_grace_ms = 2000;
    s.platform.database.url = Secret::new(url);
    let app = crm_customers::application(s).await.expect("build");
    let addr = format!("127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let serving = wait_serving(&addr, crm_customers::GRPC_SERVICE).await;
    assert!(serving, "serving before the signal");
    stop.send(()).expect("signal");
    let result = tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("stops within the grace period");
    result.expect("join").expect("clean exit");
    assert!(
        crm_platform::cli::healthcheck(&addr, "", std::time::Duration::from_millis(500))
            .await
            .is_err(),
        "no longer accepting calls"
    );
}
