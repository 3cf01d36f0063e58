//! Health on the loyalty server.
use crate::harness::*;
use crm_platform::testing::Backend;

#[tokio::test]
async fn health_reports_serving_once_migrated() {
    let app = spawn_app(Backend::Sqlite).await;
    let addr = format!("127.0.0.1:{}", app.port);
    let mut ok = false;
    for _ in 0..50 {
        if crm_platform::cli::healthcheck(
            &addr,
            crm_loyalty::GRPC_SERVICE,
            std::time::Duration::from_secs(1),
        )
        .await
        .is_ok()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ok, "loyalty never became SERVING");
}
