//! `spawn_app()` and request builders shared by the tests.
use crm_customers::Settings;
use crm_platform::config::Secret;
use crm_platform::testing::{self, Backend};
use crm_proto::customers as pb;
use crm_proto::customers::customer_service_client::CustomerServiceClient;
use tonic::transport::Channel;

pub struct TestApp {
    pub client: CustomerServiceClient<Channel>,
    pub port: u16,
    pub service: crm_customers::service::CustomersService,
}

#[derive(Default)]
pub struct Options {
    /// Overrides the Redis URL (e.g. a cuttable proxy); only used on PostgreSQL.
    pub redis_url: Option<String>,
    /// Shares a database and cache prefix with another app (a second replica).
    pub shared: Option<(String, String)>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await.0
}

/// Returns the app and its (database URL, cache prefix) so a replica can share them.
pub async fn spawn_app_with(backend: Backend, opts: Options) -> (TestApp, (String, String)) {
    let mut s = Settings::load(None).expect("default settings");
    s.platform.server.host = "127.0.0.1".into();
    s.platform.server.port = 0;
    let (db_url, prefix) = match opts.shared {
        Some(shared) => shared,
        None => (
            testing::fresh_database_url(backend).await,
            testing::random_prefix(),
        ),
    };
    s.platform.database.url = Secret::new(db_url.clone());
    s.platform.database.max_connections = 5;
    s.platform.cache.key_prefix = prefix.clone();
    s.platform.cache.redis_url = match backend {
        Backend::Sqlite => Secret::default(),
        Backend::Postgres => Secret::new(
            opts.redis_url
                .or_else(testing::redis_url)
                .unwrap_or_default(),
        ),
    };
    s.platform.security.page_token_secret = Secret::new("test-page-token-secret-0123456789abcdef");
    let app = crm_customers::application(s).await.expect("app builds");
    let port = app.port();
    let service = app.service().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let client = CustomerServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .expect("connect");
    (
        TestApp {
            client,
            port,
            service,
        },
        (db_url, prefix),
    )
}

/// Runs `test` once per available backend.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(Backend) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in testing::backends() {
        eprintln!("-- backend {backend:?}");
        test(backend).await;
    }
}

pub fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn person(name: &str, email: &str) -> pb::Customer {
    pb::Customer {
        display_name: name.into(),
        primary_email: email.into(),
        ..Default::default()
    }
}

impl TestApp {
    pub async fn create(&mut self, c: pb::Customer) -> pb::Customer {
        self.client
            .create_customer(pb::CreateCustomerRequest {
                customer: Some(c),
                request_id: rid(),
            })
            .await
            .expect("create")
            .into_inner()
    }

    pub async fn get(&mut self, name: &str) -> Result<pb::Customer, tonic::Status> {
        self.client
            .get_customer(pb::GetCustomerRequest { name: name.into() })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn update(
        &mut self,
        c: pb::Customer,
        paths: &[&str],
    ) -> Result<pb::Customer, tonic::Status> {
        let mask = prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        };
        self.client
            .update_customer(pb::UpdateCustomerRequest {
                customer: Some(c),
                update_mask: Some(mask),
                request_id: rid(),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn purchase(
        &mut self,
        customer: &str,
        days_ago: i64,
        amount_minor: i64,
    ) -> pb::Activity {
        let t = chrono::Utc::now() - chrono::Duration::days(days_ago);
        let activity = pb::Activity {
            kind: pb::ActivityKind::Purchase as i32,
            occur_time: Some(prost_types::Timestamp {
                seconds: t.timestamp(),
                nanos: 0,
            }),
            amount: Some(crm_proto::common::Money {
                currency_code: "CNY".into(),
                amount_minor,
            }),
            items: vec![pb::PurchaseItem {
                item_id: "sku-1".into(),
                quantity: 1,
                unit_price: None,
            }],
            reference: format!("order-{}", rid()),
            ..Default::default()
        };
        self.client
            .record_activity(pb::RecordActivityRequest {
                parent: customer.into(),
                activity: Some(activity),
                request_id: rid(),
            })
            .await
            .expect("record purchase")
            .into_inner()
    }
}

/// Asserts a status's code, ErrorInfo reason and (for INVALID_ARGUMENT) violated fields.
pub fn assert_status(status: &tonic::Status, code: tonic::Code, reason: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(
        crm_platform::grpc::reason_of(status).as_deref(),
        Some(reason),
        "{status:?}"
    );
}

pub fn violations(status: &tonic::Status) -> Vec<String> {
    crm_platform::grpc::violated_fields(status)
}

/// Polls grpc.health.v1 on `addr` for `service` until SERVING (true) or ~5 s pass (false).
pub async fn wait_serving(addr: &str, service: &str) -> bool {
    for _ in 0..50 {
        if crm_platform::cli::healthcheck(addr, service, std::time::Duration::from_secs(1))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}
